// The end of LOGIN and AUTHENTICATE: the shared password check (LoginService throttles failures),
// the per-account connection limit, and the session's place in the live-session registry.
import { metrics } from '../metrics/registry.ts';
import { sessionRegistry } from '../security/sessions.ts';
import type { Reply } from './command.ts';
import { ImapError } from './command.ts';
import type { Session } from './session.ts';

export function requirePrivacy(session: Session): void {
  if (!session.plainAuthAllowed()) throw new ImapError('NO', 'Use STARTTLS first', 'PRIVACYREQUIRED');
}

/** `authzid`: AUTHENTICATE PLAIN's authorization identity (LoginService refuses anyone but the user). */
export async function logIn(session: Session, username: string, password: string, authzid = ''): Promise<Reply> {
  const result = await session.ctx.login.login(username, password, session.clientIp, {
    permission: 'mailbox.read',
    authzid,
  });
  metrics.login('imap', result.ok ? 'ok' : result.reason);
  if (!result.ok) {
    session.ctx.logger?.info({ session: session.id, user: username, reason: result.reason }, 'imap login failed');
    if (result.reason === 'throttled')
      return { status: 'NO', code: 'UNAVAILABLE', text: 'Too many failed logins, try again later' };
    if (result.reason === 'authzid')
      return {
        status: 'NO',
        code: 'AUTHORIZATIONFAILED',
        text: 'Authorization identity must be empty or your own user name',
      };
    if (result.reason === 'suspended') return { status: 'NO', code: 'CONTACTADMIN', text: 'Account suspended' };
    return { status: 'NO', code: 'AUTHENTICATIONFAILED', text: 'Invalid credentials' };
  }
  if (!session.authenticate(result.account)) {
    return { status: 'NO', code: 'LIMIT', text: 'Too many connections for this account' };
  }
  // A revoked key, a new password or a suspension ends the session: `* BYE`, then close (RFC 9051 §7.1.5).
  const unregister = sessionRegistry(session.ctx.store).register({
    protocol: 'imap',
    accountId: result.account.id,
    credential: result.credential,
    expiresAt: result.expiresAt,
    passwordHash: result.account.passwordHash,
    end: (reason) => session.bye(`Session ended: ${reason}`),
  });
  session.onClose(unregister);
  session.ctx.logger?.info({ session: session.id, account: result.account.id }, 'imap login');
  return { code: `CAPABILITY ${session.capabilities().join(' ')}`, text: 'Logged in' };
}
