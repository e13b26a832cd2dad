// LIST with LIST-EXTENDED (RFC 5258) selection and return options, SPECIAL-USE (RFC 6154) and
// LIST-STATUS (RFC 5819).
import { atomsOf, tokenText, type Args } from '../args.ts';
import { BadArguments } from '../args.ts';
import { AUTHENTICATED, defineCommand, ImapError } from '../command.ts';
import { DELIMITER, hierarchy, patternMatcher, STATUS_ITEMS, statusItems } from '../mailboxes.ts';
import type { Session } from '../session.ts';

export interface ListRequest {
  reference: string;
  patterns: string[];
  subscribedOnly: boolean;
  specialUseOnly: boolean;
  recursiveMatch: boolean;
  returnSubscribed: boolean;
  status: string[] | null;
  extended: boolean;
}

export function parseList(args: Args): ListRequest {
  const request: ListRequest = {
    reference: '',
    patterns: [],
    subscribedOnly: false,
    specialUseOnly: false,
    recursiveMatch: false,
    returnSubscribed: false,
    status: null,
    extended: false,
  };
  if (args.peek()?.kind === 'list') {
    request.extended = true;
    for (const option of atomsOf(args.list(), 'selection option')) {
      const name = option.toUpperCase();
      if (name === 'SUBSCRIBED') request.subscribedOnly = true;
      else if (name === 'SPECIAL-USE') request.specialUseOnly = true;
      else if (name === 'RECURSIVEMATCH') request.recursiveMatch = true;
      else if (name !== 'REMOTE') throw new BadArguments(`Unknown selection option ${name}`);
    }
    if (request.recursiveMatch && !request.subscribedOnly)
      throw new BadArguments('RECURSIVEMATCH needs another selection option');
  }
  request.reference = args.astring('reference');
  const patterns = args.next('mailbox pattern');
  request.patterns = patterns.kind === 'list' ? patterns.items.map((t) => tokenText(t)) : [tokenText(patterns)];
  if (args.accept('RETURN')) {
    request.extended = true;
    const options = args.list('return options');
    for (let i = 0; i < options.length; i++) {
      const t = options[i]!;
      const name = t.kind === 'atom' ? t.value.toUpperCase() : '';
      if (name === 'SUBSCRIBED') request.returnSubscribed = true;
      else if (name === 'STATUS') {
        const items = options[++i];
        if (items?.kind !== 'list') throw new BadArguments('STATUS needs a list of items');
        request.status = atomsOf(items.items, 'status item').map((s) => s.toUpperCase());
        if (request.status.some((s) => !STATUS_ITEMS.has(s))) throw new BadArguments('Unknown status item');
      } else if (name !== 'CHILDREN' && name !== 'SPECIAL-USE' && name !== 'MYRIGHTS')
        throw new BadArguments(`Unknown return option ${name}`);
    }
  }
  return request;
}

/** Writes the LIST (or LSUB) responses for a request. */
export async function list(session: Session, request: ListRequest, verb: 'LIST' | 'LSUB'): Promise<void> {
  if (!request.extended && request.patterns.length === 1 && request.patterns[0] === '') {
    session.send(`* ${verb} (\\Noselect) "${DELIMITER}" ""`);
    return;
  }
  const matchers = request.patterns.map((p) => {
    try {
      return patternMatcher(session.parseMailboxName(request.reference + p));
    } catch (err) {
      if (err instanceof ImapError) return () => false; // not valid modified UTF-7: matches no mailbox
      throw err;
    }
  });
  const accountId = session.account!.id;
  const subscribed = session.ctx.store.folders.subscriptions(accountId);
  const entries = hierarchy(session.ctx.store.folders.list(accountId), request.subscribedOnly ? subscribed : new Set());
  const matches = (name: string): boolean => matchers.some((m) => m(name));
  /** A subscribed name below `name` that the patterns do not return themselves (RFC 5258 3.5 CHILDINFO, RFC 3501 6.3.9 LSUB). */
  const hiddenSubscribedChild = (name: string): boolean =>
    [...subscribed].some((n) => n.startsWith(name + DELIMITER) && !matches(n));
  for (const entry of entries) {
    if (!matches(entry.name)) continue;
    const isSubscribed = subscribed.has(entry.name);
    const childInfo = !isSubscribed && (request.recursiveMatch || verb === 'LSUB') && hiddenSubscribedChild(entry.name);
    if (request.subscribedOnly && !isSubscribed && !childInfo) continue;
    if (request.specialUseOnly && !entry.folder?.specialUse) continue;
    const attributes: string[] = [];
    if (verb === 'LSUB') {
      if (!isSubscribed) attributes.push('\\Noselect'); // only a parent of subscribed names
    } else {
      if (!entry.folder) attributes.push(request.extended ? '\\NonExistent' : '\\Noselect');
      attributes.push(entry.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
      if (entry.folder?.specialUse) attributes.push(entry.folder.specialUse);
      if (isSubscribed && (request.subscribedOnly || request.returnSubscribed)) attributes.push('\\Subscribed');
    }
    const extra = childInfo && verb === 'LIST' ? ' ("CHILDINFO" ("SUBSCRIBED"))' : '';
    session.send(`* ${verb} (${attributes.join(' ')}) "${DELIMITER}" ${session.mailboxName(entry.name)}${extra}`);
    if (request.status && entry.folder) {
      session.send(
        `* STATUS ${session.mailboxName(entry.name)} ${await statusItems(session, entry.folder, request.status)}`,
      );
    }
  }
}

export default defineCommand({
  states: AUTHENTICATED,
  parse: parseList,
  run: (session, request) => list(session, request, 'LIST'),
});
