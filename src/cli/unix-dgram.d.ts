// Typings for unix-dgram 2 (CommonJS, no bundled types): only what sd-notify and its test use.
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events';

  namespace unixDgram {
    interface RemoteInfo {
      size: number;
      path?: string;
    }

    interface UnixDgramSocket extends EventEmitter {
      readonly fd: number;
      /** Emits 'listening' or 'error'. */
      bind(path: string): void;
      /** With a callback, errors (including 'congestion' on EAGAIN) go to it instead of the 'error' event. */
      send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error) => void): void;
      /** Throws when close(2) fails. */
      close(): void;
      on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
      on(event: 'error', listener: (err: Error & { code?: number }) => void): this;
      on(event: 'listening' | 'writable', listener: () => void): this;
      on(event: 'congestion', listener: (buf: Buffer) => void): this;
    }

    /** Throws when socket(2) fails. */
    function createSocket(type: 'unix_dgram', listener?: (msg: Buffer, rinfo: RemoteInfo) => void): UnixDgramSocket;
  }

  export = unixDgram;
}
