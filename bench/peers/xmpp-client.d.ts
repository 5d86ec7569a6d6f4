/** The part of @xmpp/client 0.14's API the peers' load workers use (the package ships no types). */
declare module '@xmpp/client' {
  interface XmppElement {
    readonly name: string;
    readonly attrs: Record<string, string | undefined>;
    is(name: string, xmlns?: string): boolean;
    toString(): string;
  }

  type Credentials = (
    authenticate: (credentials: { username: string; password: string }, mechanism: string) => Promise<void>,
    mechanisms: string[],
  ) => Promise<void>;

  interface XmppClient {
    /** 'online' once bound; 'offline' after stop. */
    readonly status: string;
    readonly reconnect: { stop(): void };
    readonly iqCaller: { get(element: XmppElement, to?: string, timeoutMs?: number): Promise<XmppElement> };
    socketParameters(service: string): Record<string, unknown>;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: XmppElement): Promise<void>;
    on(event: 'error', listener: (error: Error) => void): void;
    on(event: 'stanza', listener: (stanza: XmppElement) => void): void;
  }

  export function client(options: { service: string; domain: string; resource?: string; credentials?: Credentials; username?: string; password?: string }): XmppClient;
  export function xml(name: string, attrs?: Record<string, string> | null, ...children: XmppElement[]): XmppElement;
}
