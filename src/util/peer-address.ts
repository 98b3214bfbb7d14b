/**
 * A peer's TCP (or a DHT node's UDP) address: what trackers, the DHT, PEX
 * and `--peer` flags hand out. A leaf so that the codecs (wire/, dht/,
 * tracker/) and the discovery layer above them share it.
 */
export interface PeerAddress {
  host: string;
  port: number;
}
