/**
 * The tracker's decoders of untrusted bytes: UDP requests (server side), UDP
 * responses, announce query strings, and bencoded announce/scrape replies
 * (client side). Each input goes to all of them; only TrackerError or
 * BencodeError may come out.
 */
import { BencodeError, TrackerError } from '../../src/errors.js';
import { buildAnnounceUrl, encodeAnnounceReply, parseAnnounceQuery, parseAnnounceReply } from '../../src/tracker/http-codec.js';
import { encodeScrapeReply, parseScrapeQuery, parseScrapeReply } from '../../src/tracker/http-scrape.js';
import { decodeUdpRequest, decodeUdpResponse, encodeUdpRequest, encodeUdpResponse } from '../../src/tracker/udp-codec.js';
import type { FuzzTarget } from '../target.js';

const h = Uint8Array.from({ length: 20 }, (_, i) => i * 13);
const p = new Uint8Array(20).fill(0x2d);

const target: FuzzTarget = {
  name: 'tracker',
  seeds: () => [
    encodeUdpRequest({ action: 'connect', transactionId: 1 }),
    encodeUdpRequest({ action: 'announce', connectionId: 5n, transactionId: 2, infoHash: h, peerId: p, downloaded: 1, left: 2, uploaded: 3, event: 'started', ip: 0, key: 4, numwant: -1, port: 6881 }),
    encodeUdpRequest({ action: 'scrape', connectionId: 5n, transactionId: 3, infoHashes: [h, p] }),
    encodeUdpResponse({ action: 'announce', transactionId: 2, interval: 120, leechers: 1, seeders: 2, peers: [{ host: '127.0.0.1', port: 1 }] }),
    encodeUdpResponse({ action: 'error', transactionId: 2, message: 'no' }),
    Buffer.from(buildAnnounceUrl('', { infoHash: h, peerId: p, port: 6881, uploaded: 0, downloaded: 0, left: 9, event: 'completed', numwant: 5 }).slice(1)),
    encodeAnnounceReply({ interval: 60, minInterval: 30, complete: 1, incomplete: 2, warning: 'w', peers: [{ host: '10.0.0.1', port: 80, peerId: p }] }, { compact: false, noPeerId: false }),
    encodeAnnounceReply({ interval: 60, peers: [{ host: '10.0.0.1', port: 80 }] }, { compact: true, noPeerId: false }),
    encodeScrapeReply([{ infoHash: h, complete: 1, incomplete: 2, downloaded: 3 }]),
  ],
  run(input) {
    for (const parse of [
      () => decodeUdpRequest(input),
      () => decodeUdpResponse(input),
      () => parseAnnounceQuery(Buffer.from(input).toString('latin1')),
      () => parseScrapeQuery(Buffer.from(input).toString('latin1')),
      () => parseAnnounceReply(input),
      () => parseScrapeReply(input),
    ]) {
      try {
        parse();
      } catch (err) {
        if (!(err instanceof TrackerError || err instanceof BencodeError)) throw err;
      }
    }
  },
  expected: (err) => err instanceof TrackerError || err instanceof BencodeError,
};
export default target;
