// Account-setup documents for mail clients: Thunderbird autoconfig (clientConfig v1.1), Outlook POX
// autodiscover (2006a response schema) and an Apple configuration profile (com.apple.mail.managed).
// Every value goes through xml() (text and attribute escaping): addresses come from the request.
import { createHash } from 'node:crypto';

/** Ports clients are told to use; null: that listener is off and is not offered. */
export interface ClientPorts {
  imaps: number | null;
  imap: number | null;
  pop3s: number | null;
  pop3: number | null;
  submissions: number | null;
  submission: number | null;
}

export const STANDARD_PORTS: ClientPorts = {
  imaps: 993,
  imap: 143,
  pop3s: 995,
  pop3: 110,
  submissions: 465,
  submission: 587,
};

export interface MailService {
  protocol: 'imap' | 'pop3' | 'smtp';
  port: number;
  /** SSL: TLS from the first byte; STARTTLS: upgrade in band (STLS for POP3). */
  socket: 'SSL' | 'STARTTLS';
}

/** The services on offer, most preferred first per protocol (implicit TLS before STARTTLS, RFC 8314). */
export function services(ports: ClientPorts): MailService[] {
  const list: [MailService['protocol'], number | null, MailService['socket']][] = [
    ['imap', ports.imaps, 'SSL'],
    ['imap', ports.imap, 'STARTTLS'],
    ['pop3', ports.pop3s, 'SSL'],
    ['pop3', ports.pop3, 'STARTTLS'],
    ['smtp', ports.submissions, 'SSL'],
    ['smtp', ports.submission, 'STARTTLS'],
  ];
  return list
    .filter(([, port]) => port !== null)
    .map(([protocol, port, socket]) => ({ protocol, port: port!, socket }));
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for element content and quoted attributes; drops characters XML 1.0 cannot carry. */
export function xml(value: string | number): string {
  return String(value)
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const indent = (lines: string[], depth: number): string[] => lines.map((l) => '  '.repeat(depth) + l);

/** Thunderbird's clientConfig (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat). */
export function thunderbirdConfig(domain: string, hostname: string, ports: ClientPorts): string {
  const servers = services(ports).flatMap((s) => {
    const tag = s.protocol === 'smtp' ? 'outgoingServer' : 'incomingServer';
    return [
      `<${tag} type="${s.protocol}">`,
      ...indent(
        [
          `<hostname>${xml(hostname)}</hostname>`,
          `<port>${s.port}</port>`,
          `<socketType>${s.socket}</socketType>`,
          '<username>%EMAILADDRESS%</username>',
          '<authentication>password-cleartext</authentication>',
          ...(s.protocol === 'pop3'
            ? ['<pop3>', '  <leaveMessagesOnServer>true</leaveMessagesOnServer>', '</pop3>']
            : []),
        ],
        1,
      ),
      `</${tag}>`,
    ];
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${xml(domain)}">`,
    ...indent(
      [
        `<domain>${xml(domain)}</domain>`,
        `<displayName>${xml(domain)} mail</displayName>`,
        `<displayShortName>${xml(domain)}</displayShortName>`,
        ...servers,
      ],
      2,
    ),
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ].join('\n');
}

/**
 * Outlook's POX autodiscover reply, one <Protocol> per type (the preferred service of each), LoginName
 * the address the client asked about (our logins are full addresses).
 */
export function autodiscoverResponse(address: string | null, hostname: string, ports: ClientPorts): string {
  const preferred = new Map<string, MailService>();
  for (const s of services(ports)) if (!preferred.has(s.protocol)) preferred.set(s.protocol, s);
  const protocols = [...preferred.values()].flatMap((s) => [
    '<Protocol>',
    ...indent(
      [
        `<Type>${s.protocol.toUpperCase()}</Type>`,
        `<Server>${xml(hostname)}</Server>`,
        `<Port>${s.port}</Port>`,
        '<DomainRequired>off</DomainRequired>',
        ...(address ? [`<LoginName>${xml(address)}</LoginName>`] : []),
        '<SPA>off</SPA>',
        // SSL on + Encryption: implicit TLS is "SSL", STARTTLS is "TLS" (Outlook reads Encryption first).
        '<SSL>on</SSL>',
        `<Encryption>${s.socket === 'SSL' ? 'SSL' : 'TLS'}</Encryption>`,
        '<AuthRequired>on</AuthRequired>',
        ...(s.protocol === 'smtp' ? ['<UsePOPAuth>on</UsePOPAuth>', '<SMTPLast>off</SMTPLast>'] : []),
      ],
      1,
    ),
    '</Protocol>',
  ]);
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    '  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">',
    ...indent(
      [
        '<Account>',
        '  <AccountType>email</AccountType>',
        '  <Action>settings</Action>',
        ...indent(protocols, 1),
        '</Account>',
      ],
      2,
    ),
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}

/** A stable UUID for a profile or payload, so that installing it again replaces the earlier one. */
function stableUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\0')).digest('hex').toUpperCase();
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16).toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

function plist(value: PlistValue): string[] {
  if (typeof value === 'boolean') return [value ? '<true/>' : '<false/>'];
  if (typeof value === 'number') return [`<integer>${Math.trunc(value)}</integer>`];
  if (typeof value === 'string') return [`<string>${xml(value)}</string>`];
  if (Array.isArray(value))
    return [
      '<array>',
      ...indent(
        value.flatMap((v) => plist(v)),
        1,
      ),
      '</array>',
    ];
  const entries = Object.entries(value).flatMap(([k, v]) => [`<key>${xml(k)}</key>`, ...plist(v)]);
  return ['<dict>', ...indent(entries, 1), '</dict>'];
}

/**
 * An unsigned .mobileconfig with one mail account (IMAP preferred, POP3 when IMAP is off).
 * Apple's keys: https://developer.apple.com/documentation/devicemanagement/mail
 */
export function appleProfile(address: string, domain: string, hostname: string, ports: ClientPorts): string | null {
  const offered = services(ports);
  const incoming = offered.find((s) => s.protocol === 'imap') ?? offered.find((s) => s.protocol === 'pop3');
  const outgoing = offered.find((s) => s.protocol === 'smtp');
  if (!incoming || !outgoing) return null;
  const reverse = hostname.split('.').reverse().join('.');
  const accountId = createHash('sha256').update(address).digest('hex').slice(0, 16);
  const account: PlistValue = {
    EmailAccountDescription: address,
    EmailAccountType: incoming.protocol === 'imap' ? 'EmailTypeIMAP' : 'EmailTypePOP',
    EmailAddress: address,
    IncomingMailServerAuthentication: 'EmailAuthPassword',
    IncomingMailServerHostName: hostname,
    IncomingMailServerPortNumber: incoming.port,
    // Apple's UseSSL covers both implicit TLS and STARTTLS (it tries STARTTLS on the plain ports).
    IncomingMailServerUseSSL: true,
    IncomingMailServerUsername: address,
    OutgoingMailServerAuthentication: 'EmailAuthPassword',
    OutgoingMailServerHostName: hostname,
    OutgoingMailServerPortNumber: outgoing.port,
    OutgoingMailServerUseSSL: true,
    OutgoingMailServerUsername: address,
    OutgoingPasswordSameAsIncomingPassword: true,
    PayloadDescription: `Mail account ${address}`,
    PayloadDisplayName: address,
    PayloadIdentifier: `${reverse}.mail.account.${accountId}`,
    PayloadType: 'com.apple.mail.managed',
    PayloadUUID: stableUuid(hostname, address, 'account'),
    PayloadVersion: 1,
    SMIMEEnabled: false,
  };
  const profile: PlistValue = {
    PayloadContent: [account],
    PayloadDescription: `Sets up the mail account ${address} on ${hostname}`,
    PayloadDisplayName: `${domain} mail`,
    PayloadIdentifier: `${reverse}.mail.${accountId}`,
    PayloadOrganization: domain,
    PayloadRemovalDisallowed: false,
    PayloadType: 'Configuration',
    PayloadUUID: stableUuid(hostname, address, 'profile'),
    PayloadVersion: 1,
  };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    ...plist(profile),
    '</plist>',
    '',
  ].join('\n');
}
