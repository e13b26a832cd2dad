// The shape of a command module: the states it is allowed in, its argument grammar (parse) and
// what it does (run). The table of them is commands/index.ts.
import type { Args } from './args.ts';
import type { Session } from './session.ts';

export type State = 'notAuthenticated' | 'authenticated' | 'selected' | 'logout';
export type Status = 'OK' | 'NO' | 'BAD';

/** A command's outcome when it is not a plain "OK <name> completed". */
export interface Reply {
  status?: Status;
  code?: string;
  text?: string;
  /** The command has written its own tagged response (STARTTLS, COMPRESS: before switching layers). */
  done?: boolean;
}

/** Thrown by commands for a tagged NO/BAD with an optional response code. */
export class ImapError extends Error {
  readonly status: Status;
  readonly code?: string;
  constructor(status: Status, text: string, code?: string) {
    super(text);
    this.status = status;
    this.code = code;
  }
}

export interface CommandSpec<A> {
  states: readonly State[];
  /** FETCH, STORE and SEARCH may not be followed by EXPUNGE responses (RFC 3501 7.4.1). */
  holdsExpunges?: boolean;
  /** Reads the arguments; throws BadArguments on a grammar error. */
  parse(args: Args, session: Session): A;
  run(session: Session, args: A, tag: string): Promise<Reply | void>;
}

export const defineCommand = <A>(spec: CommandSpec<A>): CommandSpec<A> => spec;

export const ANY: readonly State[] = ['notAuthenticated', 'authenticated', 'selected'];
export const NOT_AUTHENTICATED: readonly State[] = ['notAuthenticated'];
export const AUTHENTICATED: readonly State[] = ['authenticated', 'selected'];
export const SELECTED: readonly State[] = ['selected'];

/** For commands without arguments. */
export const noArgs = (): null => null;

export function requireSelected(session: Session): NonNullable<Session['selected']> {
  if (!session.selected) throw new ImapError('BAD', 'No mailbox selected');
  return session.selected;
}
