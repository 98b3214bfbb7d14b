/**
 * How many seeders a tracker holds for a torrent, from an HTTP scrape
 * (BEP 48): the swarm benchmark starts its leechers only once the seeder,
 * ours or libtorrent's, is registered, so neither client's first leechers
 * get an empty peer list and wait for the next round.
 */
import { get } from 'node:http';

/** Seeders in the tracker's swarm of `infoHashHex`; undefined if the tracker did not answer. */
export function scrapeComplete(trackerHost: string, trackerPort: number, infoHashHex: string): Promise<number | undefined> {
  const q = infoHashHex.replace(/../g, '%$&');
  return new Promise((resolve) => {
    const req = get({ host: trackerHost, port: trackerPort, path: `/scrape?info_hash=${q}`, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        // d5:filesd20:<hash>d8:completei<N>e...: the one number wanted, read without a bencode parser.
        const m = /8:completei(\d+)e/.exec(Buffer.concat(chunks).toString('latin1'));
        resolve(m ? Number(m[1]) : undefined);
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Polls the scrape until at least one seeder is registered; throws after `ms`. */
export async function waitSeederRegistered(trackerHost: string, trackerPort: number, infoHashHex: string, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (((await scrapeComplete(trackerHost, trackerPort, infoHashHex)) ?? 0) >= 1) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the tracker had no seeder for ${infoHashHex} after ${ms / 1000} s (did the seeder announce?)`);
}
