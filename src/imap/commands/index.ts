// The command table: IMAP command name → module (states, argument grammar, handler).
import type { CommandSpec } from '../command.ts';
import append from './append.ts';
import authenticate from './authenticate.ts';
import cancelupdate from './cancelupdate.ts';
import capability from './capability.ts';
import check from './check.ts';
import close from './close.ts';
import compress from './compress.ts';
import copy from './copy.ts';
import create from './create.ts';
import deleteCommand from './delete.ts';
import enable from './enable.ts';
import examine from './examine.ts';
import expunge from './expunge.ts';
import fetch from './fetch.ts';
import genurlauth from './genurlauth.ts';
import getquota from './getquota.ts';
import getquotaroot from './getquotaroot.ts';
import id from './id.ts';
import idle from './idle.ts';
import list from './list.ts';
import login from './login.ts';
import logout from './logout.ts';
import lsub from './lsub.ts';
import move from './move.ts';
import namespace from './namespace.ts';
import noop from './noop.ts';
import notify from './notify.ts';
import rename from './rename.ts';
import resetkey from './resetkey.ts';
import search from './search.ts';
import select from './select.ts';
import sort from './sort.ts';
import starttls from './starttls.ts';
import status from './status.ts';
import store from './store.ts';
import subscribe from './subscribe.ts';
import thread from './thread.ts';
import uidCopy from './uid-copy.ts';
import uidExpunge from './uid-expunge.ts';
import uidFetch from './uid-fetch.ts';
import uidMove from './uid-move.ts';
import uidSearch from './uid-search.ts';
import uidSort from './uid-sort.ts';
import uidStore from './uid-store.ts';
import uidThread from './uid-thread.ts';
import unselect from './unselect.ts';
import unsubscribe from './unsubscribe.ts';
import urlfetch from './urlfetch.ts';

// Each module fixes its own argument type; the table only needs to call parse and run together.
// biome-ignore lint/suspicious/noExplicitAny: the argument type differs per command and never crosses between them
export const COMMANDS = new Map<string, CommandSpec<any>>([
  ['APPEND', append],
  ['AUTHENTICATE', authenticate],
  ['CANCELUPDATE', cancelupdate],
  ['CAPABILITY', capability],
  ['CHECK', check],
  ['CLOSE', close],
  ['COMPRESS', compress],
  ['COPY', copy],
  ['CREATE', create],
  ['DELETE', deleteCommand],
  ['ENABLE', enable],
  ['EXAMINE', examine],
  ['EXPUNGE', expunge],
  ['FETCH', fetch],
  ['GENURLAUTH', genurlauth],
  ['GETQUOTA', getquota],
  ['GETQUOTAROOT', getquotaroot],
  ['ID', id],
  ['IDLE', idle],
  ['LIST', list],
  ['LOGIN', login],
  ['LOGOUT', logout],
  ['LSUB', lsub],
  ['MOVE', move],
  ['NAMESPACE', namespace],
  ['NOOP', noop],
  ['NOTIFY', notify],
  ['RENAME', rename],
  ['RESETKEY', resetkey],
  ['SEARCH', search],
  ['SELECT', select],
  ['SORT', sort],
  ['STARTTLS', starttls],
  ['STATUS', status],
  ['STORE', store],
  ['SUBSCRIBE', subscribe],
  ['THREAD', thread],
  ['UID COPY', uidCopy],
  ['UID EXPUNGE', uidExpunge],
  ['UID FETCH', uidFetch],
  ['UID MOVE', uidMove],
  ['UID SEARCH', uidSearch],
  ['UID SORT', uidSort],
  ['UID STORE', uidStore],
  ['UID THREAD', uidThread],
  ['UNSELECT', unselect],
  ['UNSUBSCRIBE', unsubscribe],
  ['URLFETCH', urlfetch],
]);
