/**
 * The read side of a connection: bytes in, the remote's handshake (BEP 3)
 * and then its messages out, from any split of the stream. Frames longer
 * than the torrent allows are refused at their length prefix (framer.ts).
 */
import { FrameDecoder } from '../wire/framer.js';
import { HandshakeReader, type Handshake } from '../wire/handshake.js';
import { MessageId, decodeMessage, type PeerMessage } from '../wire/messages.js';

/**
 * By message id: 1 when the message decodes to numbers only and keeps no
 * view of its frame (a piece's block is copied by its listener). Bitfield,
 * extended and unknown ids are 0: their frame is copied first.
 */
const DECODES_TO_NUMBERS = new Uint8Array(256);
for (const id of [
  MessageId.choke,
  MessageId.unchoke,
  MessageId.interested,
  MessageId.notInterested,
  MessageId.have,
  MessageId.request,
  MessageId.piece,
  MessageId.cancel,
  MessageId.port,
  MessageId.suggest,
  MessageId.haveAll,
  MessageId.haveNone,
  MessageId.reject,
  MessageId.allowedFast,
]) {
  DECODES_TO_NUMBERS[id] = 1;
}

export interface ReaderHandlers {
  /** The remote's handshake; may throw (a ProtocolError) to refuse it. */
  handshake(h: Handshake): void;
  /** One message; may throw to refuse it (the rest of the chunk is dropped). */
  message(msg: PeerMessage): void;
  /** The stream broke the protocol, or a handler threw. */
  error(err: unknown): void;
}

export class MessageReader {
  readonly #decoder: FrameDecoder;
  readonly #on: ReaderHandlers;
  #handshakeReader: HandshakeReader | undefined;
  #stopped = false;

  /** `handshakeRead`: the handshake was read elsewhere (the listener); messages come first. */
  constructor(opts: { maxFrameBytes: number; handshakeRead: boolean }, handlers: ReaderHandlers) {
    this.#decoder = new FrameDecoder({ maxFrameBytes: opts.maxFrameBytes });
    this.#handshakeReader = opts.handshakeRead ? undefined : new HandshakeReader();
    this.#on = handlers;
  }

  /**
   * Bytes from the transport. The chunk may be a reused read buffer: nothing
   * here keeps a view of it past this call (frames other than blocks are
   * copied; a block is handed on as a view, and its listener copies it).
   */
  push(chunk: Uint8Array): void {
    const hr = this.#handshakeReader;
    if (hr) {
      let rest: Uint8Array | undefined;
      try {
        rest = hr.push(chunk);
        if (!rest) return;
        this.#handshakeReader = undefined;
        this.#on.handshake(hr.handshake!);
      } catch (err) {
        this.#on.error(err);
        return;
      }
      if (rest.length) this.#frames(rest);
      return;
    }
    this.#frames(chunk);
  }

  /** Drops every frame still in the chunk being read (the connection closed). */
  stop(): void {
    this.#stopped = true;
  }

  #frames(chunk: Uint8Array): void {
    try {
      this.#decoder.feed(chunk, this.#onFrame);
    } catch (err) {
      this.#on.error(err);
    }
  }

  /**
   * Frames are views of reused memory. Messages that keep bytes (bitfield,
   * extended, ids we do not know) get a copy; the others decode to numbers.
   */
  readonly #onFrame = (frame: Uint8Array): void => {
    if (this.#stopped) return;
    this.#on.message(decodeMessage(frame.length === 0 || DECODES_TO_NUMBERS[frame[0]!] ? frame : Buffer.from(frame)));
  };
}
