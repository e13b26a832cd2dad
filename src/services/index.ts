// Package services implements Wren Mail's domain operations, the layer under every protocol edge:
// creating and deleting mailboxes, domains, aliases, lists and keys, setting passwords, adding DKIM
// keys, training and asking the spam classifier, reading the event log. The native API
// (src/api/routes) and the compatibility API (src/api/compat) call it (the console and the CLI reach
// it through the native API); it calls the store, src/dns, src/security and the spam classifier.
//
// Invariants:
// - A service takes plain arguments (store ids, addresses, numbers, records already loaded) and its
//   dependencies (the store, the lists); it knows nothing of HTTP, response shapes or which key is
//   asking. Who may act on what (a key's permissions, the caller's team owning the record it names)
//   is checked at the edge before a service is called.
// - The business rules live here: team limits, addresses in the team's own domains and free, quotas
//   not below what is stored, list members of the list's team, DKIM keys per domain. A rule refusing
//   an operation throws ServiceError; each edge maps it to its own error body in one place
//   (fromServiceError in src/api/errors.ts for /api/v1, nativeError in src/api/compat/errors.ts for
//   the compat API, whose translated() turns it into Stalwart's tagged bodies).
// - A read-modify-write of one record runs under that record's lock (store.directory), and a check
//   against a team limit under the team's lock, so concurrent requests cannot pass a rule together.
// - Nothing here imports src/api, src/http, src/console, src/cli or a mail protocol (src/imap,
//   src/smtp, src/pop3): they sit above it.
import type { Store } from '../store/index.ts';
import type { Lists } from '../store/lists.ts';

/** What the services need: the store and the lists over it (src/store/lists.ts keeps list routes in step). */
export interface ServiceDeps {
  store: Store;
  lists: Lists;
}

/**
 * Why a service refused: `not_found` (a record it was given or names is gone), `conflict` (taken, or
 * the record's state forbids it), `invalid` (a business rule), `limit_exceeded` (a team limit).
 * `field` names the input field at fault (the services' inputs use the native API's field names).
 */
export type ServiceErrorCode = 'not_found' | 'conflict' | 'invalid' | 'limit_exceeded';

export class ServiceError extends Error {
  readonly code: ServiceErrorCode;
  readonly field: string | null;
  constructor(code: ServiceErrorCode, message: string, field: string | null = null) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

/** Runs a check-then-create under a per-team lock, so concurrent creates cannot pass a limit together. */
export const underTeamLock = <T>(
  deps: { store: Store },
  teamId: string,
  what: string,
  fn: () => Promise<T>,
): Promise<T> => deps.store.directory.run(`team/${teamId}/${what}`, fn);
