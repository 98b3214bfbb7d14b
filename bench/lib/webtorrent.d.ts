/**
 * The part of webtorrent@1.9.7's API that the interop tests and the transfer
 * benchmark use. The package ships no types; this declares only what we call,
 * so a change of shape in an upgrade shows up as a type error here.
 */
declare module 'webtorrent' {
  import { EventEmitter } from 'node:events';

  interface WebTorrentOptions {
    dht?: boolean | object;
    tracker?: boolean | object;
    lsd?: boolean;
    natUpnp?: boolean;
    natPmp?: boolean;
    utp?: boolean;
    webSeeds?: boolean;
    /** TCP port to listen on (0: any free port). The server binds every interface. */
    torrentPort?: number;
    maxConns?: number;
  }

  interface AddOptions {
    /** Folder the content is (or will be) stored in: `<path>/<name>`. */
    path?: string;
    skipVerify?: boolean;
  }

  interface TorrentFile {
    name: string;
    path: string;
    length: number;
  }

  interface Wire extends EventEmitter {
    remoteAddress: string;
    remotePort: number;
    peerId: string;
  }

  interface Torrent extends EventEmitter {
    readonly infoHash: string;
    readonly name: string;
    readonly length: number;
    readonly pieceLength: number;
    readonly lastPieceLength: number;
    readonly pieces: unknown[];
    readonly files: TorrentFile[];
    readonly done: boolean;
    readonly ready: boolean;
    readonly progress: number;
    readonly downloaded: number;
    readonly uploaded: number;
    readonly numPeers: number;
    readonly path: string;
    readonly wires: Wire[];
    addPeer(peer: string): boolean;
    destroy(opts?: object, cb?: (err?: Error | null) => void): void;
  }

  class WebTorrent extends EventEmitter {
    constructor(opts?: WebTorrentOptions);
    readonly torrentPort: number;
    readonly listening: boolean;
    readonly torrents: Torrent[];
    readonly destroyed: boolean;
    add(torrentId: Buffer | Uint8Array | string, opts?: AddOptions, ontorrent?: (t: Torrent) => void): Torrent;
    seed(input: string | Buffer, opts?: object, onseed?: (t: Torrent) => void): Torrent;
    address(): { address: string; family: string; port: number } | null;
    destroy(cb?: (err?: Error | null) => void): void;
  }

  export type { Torrent, Wire, TorrentFile, WebTorrentOptions, AddOptions };
  export default WebTorrent;
}
