/**
 * The only globals core/ may use beyond ECMAScript itself, for tsconfig.core.json (which has no
 * Node or DOM types, so the compiler refuses timers, process, Buffer, fetch and the rest in
 * core/). Both are WHATWG Encoding standard classes, present alike in Node, browsers and the
 * simulator: pure text <-> UTF-8 bytes, no I/O. Declared here as much of them as core/ needs.
 */
declare class TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array;
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: string;
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
