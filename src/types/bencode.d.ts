declare module 'bencode' {
  interface Decode {
    (data: Uint8Array | string, start?: number, end?: number, encoding?: string): unknown;
  }
  const bencode: {
    encode(data: unknown, buffer?: Uint8Array, offset?: number): Uint8Array;
    decode: Decode;
    byteLength(data: unknown): number;
    encodingLength(data: unknown): number;
  };
  export default bencode;
}
