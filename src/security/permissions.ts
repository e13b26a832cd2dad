/** Role presets of docs/API.md §6, as permission patterns (`ns.*` and `*` are wildcards). */
export const PRESETS: Record<string, string[]> = {
  'root:full': ['*'],
  'root:readonly': ['*.read'],
  'root:webhook_admin': ['webhook.*'],
  'root:provider_admin': ['provider.*', 'routing.*', 'domain.*', 'logs.read'],
  'root:billing_admin': ['billing.read', 'usage.*'],
  'root:server_admin': ['queue.*', 'reports.*', 'spam.*', 'settings.*', 'server.*'],
  'mailbox:full': ['email.send', 'email.receive', 'mailbox.read', 'mailbox.settings.update'],
  send_only: ['email.send'],
  agent_preclaim: ['mailbox.read', 'email.receive'],
};

/** Does one granted pattern cover the permission asked for? */
function covers(pattern: string, permission: string): boolean {
  if (pattern === '*' || pattern === permission) return true;
  if (pattern.endsWith('.*')) return permission.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*.')) return permission.endsWith(pattern.slice(1)); // *.read: any namespace's read
  return false;
}

export const hasPermission = (granted: string[], permission: string): boolean =>
  granted.some((p) => covers(p, permission));

export const expandRole = (role: string): string[] | undefined => PRESETS[role];
