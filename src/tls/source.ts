// What a TLS listener takes: a default key and certificate (a plain {key, cert} still works) and,
// from the certificate store, SNI and a change signal so a reload reaches listeners already bound.
import type { SecureContext, Server as TlsServer } from 'node:tls';
import type { KeyPair } from './certificates.ts';

export type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;

export interface TlsSource extends KeyPair {
  /** Picks the certificate by the name the client asked for (the default when none matches). */
  SNICallback?: SniCallback;
  /** Calls `listener` after a reload changed the certificates; returns the unsubscribe. */
  onChange?(listener: () => void): () => void;
}

/** Options for tls.createServer / new TLSSocket: the current default pair, plus SNI when there is one. */
export function tlsServerOptions(source: TlsSource): KeyPair & { SNICallback?: SniCallback } {
  return { key: source.key, cert: source.cert, ...(source.SNICallback ? { SNICallback: source.SNICallback } : {}) };
}

/**
 * Keeps listeners' default certificate (clients that send no SNI) current across reloads:
 * `servers` are updated in place, `also` runs for anything else holding the default. Open
 * connections keep the context they were made with. Returns the unsubscribe.
 */
export function followReloads(source: TlsSource, servers: Iterable<TlsServer>, also?: () => void): () => void {
  return (
    source.onChange?.(() => {
      for (const server of servers) server.setSecureContext({ key: source.key, cert: source.cert });
      also?.();
    }) ?? (() => {})
  );
}
