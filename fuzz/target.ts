/** A fuzz target: a parser fed random and mutated inputs. */
export interface FuzzTarget {
  name: string;
  /** Valid inputs that mutations start from. */
  seeds(): Uint8Array[];
  /** Parses one input; may return or throw. */
  run(input: Uint8Array): void;
  /** True when a thrown value is the parser's typed refusal (anything else is a bug). */
  expected(err: unknown): boolean;
}
