// Header and authentication rules with fixed scores. Thresholds (classify.ts): Junk at 5, reject at 15,
// so one failed check alone never junks a message, two do, and only a pile-up of failures is refused.
import { isPrivateAddress } from '../security/net.ts';
import { parseDate } from '../mime/date.ts';
import { registeredDomain } from './content/domains.ts';
import { FEATURES } from './content/features.ts';
import { contentFeatures } from './content/index.ts';
import { LIST_FIELDS } from './content/lists.ts';
import type { MimeNode } from '../mime/types.ts';
import { MAX_RECIPIENTS, headerRecipients, messageIndex } from './normalize.ts';
import { freeMailServers, underAny } from './providers.ts';
import type { SpamHit, SpamInput, SpamScorer } from './types.ts';

interface Rule {
  rule: string;
  score: number;
  description: string;
  /** It reads the message's text, not only the header, envelope or connection (auto-learning weighs the two apart). */
  readsBody?: true;
  /** A sign the mail is phishing (keywords.ts: $Phishing). */
  phishing?: true;
  test(input: SpamInput): boolean;
}

const dkimSigned = (i: SpamInput) => i.auth.dkim.length > 0;
const dkimPassed = (i: SpamInput) => i.auth.dkim.some((d) => d.result === 'pass');

export const RULES: readonly Rule[] = [
  {
    rule: 'SPF_FAIL',
    score: 3.5,
    description: 'SPF: sender host not permitted (-all)',
    test: (i) => i.auth.spf.result === 'fail',
  },
  {
    rule: 'SPF_SOFTFAIL',
    score: 1.5,
    description: 'SPF: sender host discouraged (~all)',
    test: (i) => i.auth.spf.result === 'softfail',
  },
  {
    rule: 'DKIM_FAIL',
    score: 3,
    description: 'DKIM: signed, but no signature verifies',
    test: (i) =>
      dkimSigned(i) && !dkimPassed(i) && i.auth.dkim.some((d) => d.result === 'fail' || d.result === 'neutral'),
  },
  {
    rule: 'DMARC_FAIL',
    score: 3,
    description: 'DMARC: From domain not authenticated',
    test: (i) => i.auth.dmarc.result === 'fail',
  },
  { rule: 'MISSING_DATE', score: 1, description: 'No Date header', test: (i) => i.headers.get('date') === null },
  {
    rule: 'MISSING_MESSAGE_ID',
    score: 1,
    description: 'No Message-ID header',
    test: (i) => i.headers.get('message-id') === null,
  },
  {
    // RFC 5322 §3.6.4: msg-id is "<" id-left "@" id-right ">"; every mail program writes that form.
    rule: 'MSGID_INVALID',
    score: 1,
    description: 'Message-ID not of the form <left@right>',
    test: (i) => {
      const id = i.headers.get('message-id');
      return id !== null && !/^<[^<>@\s]+@[^<>@\s]+>$/.test(id.replace(/\([^)]*\)/g, '').trim());
    },
  },
  {
    // Someone outside claims to be one of our own domains and cannot prove it (SPF or DKIM aligned).
    rule: 'FORGED_HOSTED_FROM',
    score: 6,
    description: 'From a hosted domain without passing authentication',
    phishing: true, // the user's own organisation impersonated: the wire-transfer and password fraud
    test: (i) =>
      i.fromHosted &&
      i.auth.dmarc.result !== 'pass' &&
      !(i.auth.spf.result === 'pass' && spfAligned(i)) &&
      !i.auth.dkim.some((d) => d.result === 'pass' && d.aligned),
  },
];

const AD_LABEL = /^\s*(?:\[[^[\]]{0,40}\]\s*)?(?:adv\s*:|sexually[- ]explicit\s*:|未承諾広告)/i;

/** The GTUBE test string (SpamAssassin's), split so this file is not itself a GTUBE match. */
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*' + 'GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const body = (i: SpamInput) => i.raw.subarray(i.headers.bodyStart);
const domainPart = (value: string | null) => /@([^>\s,;]+)/.exec(value ?? '')?.[1]?.toLowerCase() ?? null;

/** Header and content rules beyond authentication (scores after SpamAssassin's defaults, rounded). */
export const CONTENT_RULES: readonly Rule[] = [
  {
    rule: 'GTUBE',
    score: 1000,
    description: 'The GTUBE spam test string',
    readsBody: true,
    test: (i) => body(i).includes(GTUBE),
  },
  {
    rule: 'MALFORMED_DATE',
    score: 1,
    description: 'Date header that does not parse',
    // By Date.parse, the strict reader most software has: parseDate (below) finds a date inside more
    // broken text (18 corpus messages, all spam, read by it and not by Date.parse).
    test: (i) =>
      i.headers.get('date') !== null && Number.isNaN(Date.parse(i.headers.get('date')!.replace(/\([^)]*\)/g, ''))),
  },
  {
    // Ratware stamps a Date of its own making; a sender's clock is off by hours at most (RFC 5322 §3.6.1:
    // the time the writer finished the message). Beside the servers' times in the Received fields, 6 h
    // ahead of all of them or 4 days behind fires on spam of both real corpus sources, hardly on ham.
    rule: 'DATE_FAR_FROM_RECEIVED',
    score: 1.5,
    description: 'Date header 6 hours ahead of, or 4 days behind, when the mail was received',
    test: (i) => {
      const skew = dateSkewHours(i);
      return skew !== null && (skew >= 6 || skew <= -96);
    },
  },
  {
    // A zone no place has (RFC 5322 §3.3: the offset from UTC; real ones run from -1200 to +1400, in
    // whole, half or quarter hours): a date written by a program, not a clock.
    rule: 'DATE_ZONE_INVALID',
    score: 2,
    description: 'Date header with a time zone no place has',
    test: (i) => {
      const zone = /\s([+-])(\d\d)(\d\d)\s*(?:\([^)]*\)\s*)?$/.exec(i.headers.get('date') ?? '');
      if (!zone) return false;
      const [hours, minutes, widest] = [Number(zone[2]), Number(zone[3]), zone[1] === '-' ? 12 : 14];
      return ![0, 30, 45].includes(minutes) || hours > widest || (hours === widest && minutes > 0);
    },
  },
  {
    // RFC 5321 §4.1.1.1: EHLO names the client by its fully-qualified domain (or an address literal);
    // mail servers do, spam from infected desktops says "commander" or "pc1".
    rule: 'HELO_NO_DOMAIN',
    score: 1,
    description: 'The client that handed the mail in greeted with a name that is not a domain',
    test: (i) => {
      const helo = trace(i).entry?.helo;
      return helo !== undefined && !helo.startsWith('[') && !helo.includes('.');
    },
  },
  {
    // RFC 5321 §4.1.3: a client greeting with its address writes it as a literal, "[192.0.2.1]"; a bare
    // address, or the literal of an address it is not connecting from, is what ratware writes.
    rule: 'HELO_BAD_ADDRESS',
    score: 1,
    description: 'The client that handed the mail in greeted with a bare address, or another address than its own',
    test: (i) => {
      const entry = trace(i).entry;
      const greeted = entry && /^\[?(\d{1,3}(?:\.\d{1,3}){3})\]?$/.exec(entry.helo);
      return !!greeted && (!entry.helo.startsWith('[') || greeted[1] !== entry.ip);
    },
  },
  {
    // The client's reverse DNS name is an access network's name for a home line (adsl-1-2-3-4, dyn,
    // pool, cable, ppp): home machines send mail through their provider, bots straight to the MX.
    rule: 'RDNS_DYNAMIC',
    score: 1,
    description: 'The client that handed the mail in has a home-line (dynamic) reverse DNS name',
    test: (i) => DYNAMIC_NAME.test(trace(i).entry?.rdns.split('.')[0] ?? ''),
  },
  {
    // Named, not scored: mailing lists set Reply-To to the list, so in both real sources of the shared
    // corpus more ham than spam has it (SA public 18% of ham, 12% of spam; trec07p 7.9%, 0.4%).
    rule: 'REPLYTO_DIFFERS_FROM',
    score: 0,
    description: 'Reply-To points to another domain than From',
    test: (i) => {
      const replyTo = domainPart(i.headers.get('reply-to'));
      const from = sender(i).host;
      return replyTo !== null && from !== null && !underAny(replyTo, [from]) && !underAny(from, [replyTo]);
    },
  },
  {
    // A free-mail user writes through the provider, whose servers hand the mail on and sign it; with
    // neither in the trace, the address was written by someone else. Lists and replies are left out:
    // a list may rewrite the trace, and a reply answers mail the user wrote. So is mail with no trace at
    // all: no Received field (RFC 5321 §4.4: every relay writes one) and not being received over SMTP now
    // is a saved or pasted copy (an MUA's draft or sent folder, a message classified through the API),
    // whose way was never recorded, not one that went around the provider (Apple Mail's copy of a me.com
    // message; 0 of the shared corpus' 408 spam this rule fires on lack Received fields).
    rule: 'FREEMAIL_NOT_VIA_PROVIDER',
    score: 2,
    description: "From a free-mail address, but neither sent through nor signed by the provider's servers",
    test: (i) => {
      const servers = freeMailServers(sender(i).host ?? '');
      return servers !== null && hasTrace(i) && !viaList(i) && !isReply(i) && !cameThrough(i, servers);
    },
  },
  {
    // The program named in X-Mailer writes Message-IDs of its own form; ratware copies the name only.
    rule: 'MUA_FORGED_OUTLOOK',
    score: 2,
    description: 'X-Mailer names Outlook (Express), but the Message-ID is not of the form it writes',
    test: (i) => {
      if (!OUTLOOK_MAILER.test(i.headers.get('x-mailer') ?? '')) return false;
      const id = i.headers.messageId?.trim() ?? '';
      return !OUTLOOK_MESSAGE_ID.test(id) && !HOTMAIL_MESSAGE_ID.test(id) && !WINDOWS_MAIL_MESSAGE_ID.test(id);
    },
  },
  {
    // The same for other programs of the time whose Message-ID forms are plain to see: The Bat! writes
    // <number.YYYYMMDDhhmmss@host>, Netscape Communicator 4 <hex.hex@host>, Eudora <its version.date.hex@host>.
    // Lists are left out: a list server may write its own Message-ID (Lyris does).
    rule: 'MUA_FORGED_MESSAGE_ID',
    score: 2,
    description: 'X-Mailer names The Bat!, Netscape 4 or Eudora, but the Message-ID is not of the form it writes',
    test: (i) => {
      const mailer = i.headers.get('x-mailer') ?? '';
      const form = MESSAGE_ID_FORMS.find(([program]) => program.test(mailer))?.[1];
      return !!form && !form.test(i.headers.messageId?.trim() ?? '') && !viaList(i);
    },
  },
  {
    // AOL's own program sent only through AOL: a dial-up service's client, it hands mail to AOL's servers,
    // which write their names in the trace and (today) sign it. Its X-Mailer ("AOL 7.0 for Windows US sub
    // 118") on mail that never passed them is borrowed (SA public spam 16, trec07p 2, no ham of either).
    rule: 'MUA_FORGED_AOL',
    score: 2,
    description: "X-Mailer names AOL's program, but the mail did not come through AOL's servers",
    test: (i) => AOL_MAILER.test(i.headers.get('x-mailer') ?? '') && !viaList(i) && !cameThrough(i, AOL_SERVERS),
  },
  {
    // X-Library is the field a programming library's mail component writes (Delphi's Indy): mail programs
    // name themselves in X-Mailer or User-Agent, so this mail was put together by a program of its own, a
    // bulk mailer's (SA public spam 17, trec07p 4, no ham of either nor of the MIME fixtures). Named
    // lightly: an application's notices may be written so too.
    rule: 'MAILER_LIBRARY',
    score: 1,
    description: 'Written by a programming library (X-Library), not a mail program',
    test: (i) => i.headers.get('x-library') !== null,
  },
  {
    // And the other way: Outlook Express's Message-ID form without the X-MimeOLE field it writes beside
    // it (an Exchange server on the way rewrites the header, so one there excuses it).
    rule: 'MSGID_OUTLOOK_NO_MIMEOLE',
    score: 2,
    description: "Message-ID of Outlook Express's form without its X-MimeOLE field",
    test: (i) =>
      OUTLOOK_MESSAGE_ID_LOOSE.test(i.headers.messageId?.trim() ?? '') &&
      !/^\s*Produced By Microsoft MimeOLE/i.test(i.headers.get('x-mimeole') ?? '') &&
      !i.headers.fields.some((f) => f.name === 'received' && EXCHANGE_HOP.test(f.value)),
  },
  {
    // A display name that carries an address of another domain ("support@bank.example" <x@elsewhere>):
    // the name is what a mail program shows, so the reader sees the address it impersonates. Relays and
    // groups that write the original sender there say so ("a@b.example [via Relay]", "'a@b' via Group").
    rule: 'FROM_NAME_OTHER_ADDRESS',
    score: 1.5,
    description: "From's display name shows an address of another domain than the sender's",
    test: (i) => {
      const { host, name } = sender(i);
      if (!host || !name.includes('@') || viaList(i) || /\bvia\b/i.test(name)) return false;
      const own = registeredDomain(host);
      return [...name.matchAll(ADDRESS_IN_NAME)].some((m) => registeredDomain(m[1]!) !== own);
    },
  },
  {
    // Mail from outside that names the recipient's own organisation as its sender ("example.com IT
    // desk" <x@elsewhere>): how phishing poses as a company's help desk. A free-mail recipient's
    // provider is left out: its own notices come from its other domains ("Gmail Team" <…@google.com>).
    rule: 'FROM_NAME_RECIPIENT_DOMAIN',
    score: 1.5,
    description: "From's display name names the recipient's own domain, the address is elsewhere",
    test: (i) => {
      const { host, name: written } = sender(i);
      const name = written.toLowerCase();
      if (!host || name.trim() === '' || viaList(i)) return false;
      // By name, not domain: a company writes from example.com to its people at example.co.uk.
      const own = registeredDomain(host).split('.')[0];
      return recipientDomains(i).some((domain) => {
        const label = registeredDomain(domain).split('.')[0]!;
        return label.length >= 4 && label !== own && freeMailServers(domain) === null && namesWord(name, label);
      });
    },
  },
  {
    // Phishing kits fill the recipient's address into the subject ("jose@example.com: password expires
    // today"), so the mail looks meant for that account; people and lists write a subject about the topic.
    // Bulk mail greets the mailbox name there ("Hello katfish48 !"): a person greets a person's name.
    // A reply may carry back a subject that named its writer ("Re: Message from bob@…", Delta Chat's), and
    // a bounce names the addresses it is about (RFC 3464's multipart/report).
    rule: 'SUBJECT_NAMES_RECIPIENT',
    score: 1.5,
    description: "Subject holds the recipient's address",
    test: (i) => {
      const subject = i.headers.subject.toLowerCase();
      return (
        !viaList(i) &&
        !isReply(i) &&
        !/^\s*multipart\/report\b/i.test(i.headers.get('content-type') ?? '') &&
        recipientAddresses(i).some(
          (a) => (a.length >= 6 && subject.includes(a)) || greets(subject.slice(0, GREETING_SCAN), username(a)),
        )
      );
    },
  },
  {
    // The same kits greet by the address ("Dear jose@example.com,"): they know the address, not the name.
    rule: 'GREETS_RECIPIENT_ADDRESS',
    score: 1.5,
    description: "The text's greeting names the recipient by address",
    readsBody: true,
    test: (i) => {
      if (viaList(i)) return false;
      const opening = messageIndex(i.raw).search.text.slice(0, GREETING_SCAN).toLowerCase();
      return recipientAddresses(i).some((a) => greetsBy(opening, a));
    },
  },
  {
    // Or greet a user of the recipient's domain ("Dear example.com user", "Hello Yahoo member"): the help
    // desk they pose as. Mail of the domain itself, or of the provider behind a free-mail domain, is excused.
    rule: 'GREETS_RECIPIENT_DOMAIN_USER',
    score: 1.5,
    description: "The text's greeting names a user of the recipient's domain, from another domain",
    readsBody: true,
    test: (i) => {
      const { host } = sender(i);
      if (viaList(i)) return false;
      let opening: string | undefined;
      return recipientDomains(i).some((domain) => {
        const servers = freeMailServers(domain) ?? [registeredDomain(domain)];
        if (host && underAny(host, servers)) return false;
        opening ??= messageIndex(i.raw).search.text.slice(0, GREETING_SCAN).toLowerCase();
        const label = registeredDomain(domain).split('.')[0]!;
        return greetsUserOf(opening, domain) || (label.length >= 4 && greetsUserOf(opening, label));
      });
    },
  },
  {
    // Outlook and Outlook Express write a recipient without a name as <addr>; ratware that names them
    // writes the bare address (RFC 5322 §3.4 allows both, these programs use one).
    rule: 'MUA_OUTLOOK_BARE_TO',
    score: 1.5,
    description: 'Written by Outlook (X-Mailer, X-MimeOLE), but To is a bare address, not <addr>',
    test: (i) => {
      const to = i.headers.get('to')?.trim() ?? '';
      return to.includes('@') && !to.includes('<') && writtenByOutlook(i) && !viaList(i) && !isReply(i);
    },
  },
  {
    // Outlook and Outlook Express send HTML as multipart/alternative with a text/plain version beside it
    // (RFC 2046 §5.1.4); ratware that borrows their X-Mailer sends the HTML alone (SA public spam 11.8%,
    // trec07p 4.9%, no ham of either).
    rule: 'MUA_OUTLOOK_NO_TEXT_PART',
    score: 1.5,
    description: 'Written by Outlook (X-Mailer, X-MimeOLE), but HTML with no text/plain version',
    test: (i) => writtenByOutlook(i) && htmlWithoutText(messageIndex(i.raw).root),
  },
  {
    // A reply names the message it answers: mail programs have written In-Reply-To since RFC 822, and
    // RFC 5322 §3.6.4 says SHOULD (References too). A "Re:" without either is a subject dressed as a
    // conversation the reader is in. Lists are left out: a digest or a gateway may drop the fields, and so
    // may any program that resends mail and writes X-Loop against loops (procmail, SmartList, web groups:
    // SA public's 3 ham hits, an MSN group's posts with the group's own Message-ID). So is mail with no
    // Message-ID at all, which follows no part of §3.6.4 (MISSING_MESSAGE_ID names it): the corpus's
    // Enron files, a subject line and a body, are 1,003 such "re :" ham.
    rule: 'FAKE_REPLY',
    score: 1.5,
    description: 'Subject says Re: but the message answers none (no In-Reply-To, no References)',
    test: (i) =>
      REPLY_SUBJECT.test(i.headers.subject) &&
      i.headers.messageId !== null &&
      !isReply(i) &&
      !viaList(i) &&
      i.headers.get('x-loop') === null,
  },
  {
    // Mail programs set X-Priority when asked to; bulk senders on every message. Legitimate mail now is
    // signed (DKIM) or comes through a list; unsigned, unlisted and prioritized is ratware's habit
    // (SA public 24% of spam, 0.6% of ham; trec07p 48%, 0.45%).
    rule: 'PRIORITY_UNSIGNED',
    score: 1,
    description: 'X-Priority set on unsigned mail that came through no list',
    test: (i) => i.headers.get('x-priority') !== null && !signed(i) && !viaList(i),
  },
  {
    // A hash-buster: a token of random letters or digits after a run of blanks that pushes it out of
    // view, so each copy of a mailing differs for checksum filters ("Toners for less....    NOAZ").
    // Read on the raw line: unfolding (RFC 5322 §2.2.3) leaves a folded field's indent as a run of blanks.
    // The raw line's end is the unfolded value's, so the header is read only when the value ends so.
    rule: 'SUBJECT_PADDED_TOKEN',
    score: 1,
    description: 'Subject ends in a token set apart by a run of blanks',
    test: (i) => paddedTail(i.headers.get('subject') ?? '') && paddedTail(lastSubjectLine(i)),
  },
  {
    // A hash-buster of another kind: a long number ending the subject, a new one on each copy ("get a
    // merchant acount 5226171310", "RE: MedHelp 24066464"), or the time it was sent, to the second ("Time:1:30:33
    // AM", "[Mon, 09 Apr 2007 06:20:47 -0800]"). People label the numbers they write there ("Invoice 02722027",
    // "contract no. 96037499") or set them off ("(1476358788189)"); a date is left out.
    rule: 'SUBJECT_TAIL_NUMBER',
    score: 1.5,
    description: 'Subject ends in a long number that labels nothing, or in a time to the second (a hash-buster)',
    test: (i) => unlabelledTailNumber(i.headers.subject) || CLOCK_TAIL.test(i.headers.subject.slice(-CLOCK_TAIL_SCAN)),
  },
  {
    // The label laws asked of unsolicited advertising: "ADV:" (US state laws of 1998–2003), "SEXUALLY-EXPLICIT:"
    // (16 CFR 316.4), 未承諾広告 ("unsolicited advertisement", Japan's law of 2002–2008), after a list's tag if
    // any. SpamAssassin public corpus 53 spam, trec07p 1, no ham of either and no MIME fixture.
    rule: 'SUBJECT_AD_LABEL',
    score: 2,
    description: 'Subject carries the label the law asks of unsolicited advertising (ADV:)',
    test: (i) => AD_LABEL.test(i.headers.subject),
  },
  {
    rule: 'SUBJECT_ALL_CAPS',
    score: 1,
    description: 'Subject is all capitals',
    test: (i) =>
      (i.headers.subject.match(/\p{L}/gu) ?? []).length >= 10 && i.headers.subject === i.headers.subject.toUpperCase(),
  },
  {
    rule: 'HTML_ONLY',
    score: 0.7,
    description: 'HTML body with no text alternative',
    test: (i) => /^\s*text\/html\b/i.test(i.headers.get('content-type') ?? ''),
  },
  // Named, not scored: lists set it on ham (SA public 72% of ham, 18% of spam; trec07p 22%, 1.9%).
  {
    rule: 'BULK_PRECEDENCE',
    score: 0,
    description: 'Precedence: bulk or junk',
    test: (i) => /^\s*(bulk|junk)\b/i.test(i.headers.get('precedence') ?? ''),
  },
];

// Outlook Express 4–6 and Outlook 98–2002 write <hex8 or hex12 $ hex8 $ hex8 @ host>; Hotmail's web
// mail names itself Outlook Express and writes its own (@hotmail.com, later @phx.gbl); Windows Mail (and Outlook Express on XP SP3)
// 32 capital hex digits.
const OUTLOOK_MAILER = /^\s*Microsoft Outlook(?: Express [456]\.| 8\.| CWS, Build 9\.|, Build 10\.)/i;
const AOL_MAILER = /^\s*AOL \d/;
const AOL_SERVERS = freeMailServers('aol.com') ?? [];
const ANY_OUTLOOK_MAILER = /^\s*Microsoft (?:Office )?Outlook\b/i;
const writtenByOutlook = (i: SpamInput) =>
  ANY_OUTLOOK_MAILER.test(i.headers.get('x-mailer') ?? '') ||
  /^\s*Produced By Microsoft MimeOLE/i.test(i.headers.get('x-mimeole') ?? '');
/** An HTML body part, and no text/plain one, among the message's own parts (not an attached message's). */
function htmlWithoutText(root: MimeNode): boolean {
  let html = false;
  const stack = [root];
  for (let node = stack.pop(); node; node = stack.pop()) {
    if (node.children) stack.push(...node.children);
    else if (node.type === 'text' && node.disposition?.type !== 'attachment') {
      if (node.subtype === 'plain') return false;
      if (node.subtype === 'html') html = true;
    }
  }
  return html;
}
const OUTLOOK_MESSAGE_ID = /^<(?:[0-9a-f]{8}|[0-9a-f]{12})\$[0-9a-f]{8}\$[0-9a-f]{8}@[^\s>]+>$/i;
const OUTLOOK_MESSAGE_ID_LOOSE = /^<[0-9a-f]{4,}\$[0-9a-f]{4,}\$[0-9a-f]{4,}@[^\s>]+>$/i;
const HOTMAIL_MESSAGE_ID = /^<[A-Za-z0-9-]{20,}@(?:hotmail\.com|phx\.gbl)>$/;
const WINDOWS_MAIL_MESSAGE_ID = /^<[A-F0-9]{32}@[^\s>]+>$/;
const EXCHANGE_HOP = /with Microsoft Exchange|Microsoft SMTPSVC/i;
/** Mail programs (by X-Mailer) and the one Message-ID form each writes. */
const MESSAGE_ID_FORMS: [RegExp, RegExp][] = [
  [/^\s*The Bat!/i, /^<\d+\.\d{14}@[^\s>]+>$/],
  [/^\s*Mozilla 4\./i, /^<[0-9A-F]{1,8}\.[0-9A-F]{1,8}@[^\s>]+>$/],
  [/^\s*QUALCOMM Windows Eudora/i, /^<(?:\d+\.){3,5}\d{14}\.[0-9a-f]{8}@[^\s>]+>$/i],
];
// The reply prefixes mail programs write: "Re:" (RFC 5322 §3.6.5), German Outlook's "AW:", the Nordic
// "SV:", Dutch "Antw:"; counted replies too ("Re[2]:", "Re(2):").
const REPLY_SUBJECT = /^\s*(?:re|aw|sv|antw)\s*(?:\[\d{1,4}\]|\(\d{1,4}\))?\s*:/i;
// Local part bounded (RFC 5321 §4.5.3.1.1: 64 octets): unbounded, a long name without "@" took quadratic time
// (20,000 characters, 0.4 s).
const ADDRESS_IN_NAME = /[\w.+-]{1,64}@([a-z0-9-]+(?:\.[a-z0-9-]+)+)/gi;
/** The From address's domain and its display name, as parseHeaders read them. */
const sender = (i: SpamInput) => ({ host: i.headers.from[0]?.split('@')[1] ?? null, name: i.headers.fromName });
const WORD_CHAR = /[a-z0-9-]/;
/**
 * The name holds the label as a word of its own ("acme it desk", "acme.com mail"), not inside a longer
 * one ("acmefan"). Found by position, not a pattern built from the label: a header's domain may hold
 * any character.
 */
function namesWord(name: string, label: string): boolean {
  for (let at = name.indexOf(label); at >= 0; at = name.indexOf(label, at + 1))
    if (!WORD_CHAR.test(name[at - 1] ?? ' ') && !WORD_CHAR.test(name[at + label.length] ?? ' ')) return true;
  return false;
}
// The rules about the recipients read the first few: a message to thousands is not phishing one account, and
// each rule's work grows with their number (5,000 in To against a 60,000-character subject took 8 s).
/** The recipients, lower-cased: the SMTP envelope's, or for mail not received over SMTP the To and Cc fields'. */
function recipientAddresses(i: SpamInput): string[] {
  const envelope = i.envelope?.rcptTo ?? [];
  if (envelope.length === 0) return headerRecipients(messageIndex(i.raw));
  return [...new Set(envelope.slice(0, MAX_RECIPIENTS).map((a) => a.toLowerCase()))];
}
/** The recipients' domains. */
const recipientDomains = (i: SpamInput) => [
  ...new Set(
    recipientAddresses(i)
      .map((a) => a.slice(a.lastIndexOf('@') + 1))
      .filter(Boolean),
  ),
];
/** A greeting is at the start of the text: past this it is a quote or a footer ("sent to jose@…"). */
const GREETING_SCAN = 400;
// The greeting, and a word for the reader the kit puts before the address ("Dear user jose@…").
const GREETING_WORDS =
  /\b(?:dear|hello|hi|hey|greetings|attention|attn|good\s+(?:morning|afternoon|evening|day))\b(?:[\s,:;-]{1,4}(?:valued\s+)?(?:user|customer|member|client|friend|subscriber)(?=[\s,:;-]))?[\s,:;-]{0,4}/g;
const USER_WORDS =
  /^[\s-]+(?:e-?mail\s+|web\s*mail\s+|mail\s+)?(?:user|member|customer|subscriber|client|account|staff|employee)s?\b/;
/** The opening text greets a user of `name` ("Dear example.com user", "Hello Example Webmail Member"). */
function greetsUserOf(opening: string, name: string): boolean {
  for (const m of opening.matchAll(GREETING_WORDS)) {
    const from = m.index + m[0].length;
    if (opening.startsWith(name, from) && USER_WORDS.test(opening.slice(from + name.length, from + name.length + 40)))
      return true;
  }
  return false;
}
/**
 * The address's local part when it is no one's name (a digit or a sign in it: "katfish48", "j.smith"), so
 * that only a program would greet by it; otherwise null.
 */
const username = (address: string) => {
  const local = address.slice(0, address.lastIndexOf('@'));
  return local.length >= 3 && /[^a-z]/.test(local) ? local : null;
};
/** `text` holds `name` at `from`, ending there: not a longer one ("a@b.example.net"); a full stop may end the sentence. */
const namedAt = (text: string, name: string, from: number) =>
  text.startsWith(name, from) && !/^(?:[\w-]|\.[\w-])/.test(text.slice(from + name.length, from + name.length + 2));
/** The text greets `name` ("Dear a@b.example,", "Hello katfish48 !"). */
function greets(text: string, name: string | null): boolean {
  if (!name) return false;
  for (const m of text.matchAll(GREETING_WORDS)) if (namedAt(text, name, m.index + m[0].length)) return true;
  return false;
}
/** The opening text greets `address`, or begins with it ("a@b.example,\n"). */
const greetsBy = (opening: string, address: string) =>
  namedAt(opening, address, opening.length - opening.trimStart().length) || greets(opening, address);
const isBlank = (c: string | undefined) => c === ' ' || c === '\t';
/** The last physical line of the raw Subject field (its only one unless folded), "" with none. */
function lastSubjectLine(i: SpamInput): string {
  const head = i.raw.toString('latin1', 0, Math.min(i.headers.bodyStart, MAX_HEADER_SCAN));
  const start = SUBJECT_LINE.exec(head)?.index;
  if (start === undefined) return '';
  let line = start;
  let end = head.indexOf('\n', start);
  while (end >= 0 && isBlank(head[end + 1])) {
    line = end + 1;
    end = head.indexOf('\n', line);
  }
  return head.slice(line, end < 0 ? head.length : end);
}
const SUBJECT_LINE = /^subject:/im;
/** The header block read for the raw Subject line: the fields mail carries fit many times over. */
const MAX_HEADER_SCAN = 64 * 1024;
/** Text, then 3 or more blanks, then one last token. Walked by hand from the end: no pattern to backtrack. */
function paddedTail(line: string): boolean {
  let end = line.length;
  while (end > 0 && (isBlank(line[end - 1]) || line[end - 1] === '\r')) end--;
  let token = end;
  while (token > 0 && !isBlank(line[token - 1])) token--;
  let pad = token;
  while (pad > 0 && isBlank(line[pad - 1])) pad--;
  return token < end && token - pad >= 3 && pad > 0 && line[pad - 1] !== ':';
}
// A time of day to the second, then perhaps AM/PM, a zone and a closing bracket, ending the subject; its last
// characters are read, enough for "11:27:42 p.m. +0000]" and blanks.
const CLOCK_TAIL = /\b\d{1,2}:\d\d:\d\d(?:\s*[ap]\.?m\.?)?(?:\s*(?:[+-]\d{4}|[a-z]{3,4}))?\s*[\])]?\s*$/i;
const CLOCK_TAIL_SCAN = 40;
/** Digits the hash-buster's number has at least: a price, a year, a zip code or a phone's digits have fewer. */
const TAIL_DIGITS = 8;
// The words that say what a number is: an order's, an invoice's, a ticket's, a phone's.
const NUMBER_LABELS = new Set(
  'no nr number num id ref reference invoice order ticket case account acct contract tracking confirmation po serial policy customer member claim transaction booking reservation item phone tel fax'.split(
    ' ',
  ),
);
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isLetter = (c: string | undefined) => c !== undefined && /\p{L}/u.test(c);
/** The subject's last word is a number of TAIL_DIGITS or more, after a word that is not its label, and not a date. */
function unlabelledTailNumber(subject: string): boolean {
  // Walked by hand from the end: the number, the blanks before it, the word before them.
  let end = subject.length;
  while (end > 0 && /\s/.test(subject[end - 1]!)) end--;
  let start = end;
  while (start > 0 && isDigit(subject[start - 1])) start--;
  if (end - start < TAIL_DIGITS || !/\s/.test(subject[start - 1] ?? '')) return false;
  let wordEnd = start - 1;
  while (wordEnd > 0 && /\s/.test(subject[wordEnd - 1]!)) wordEnd--;
  // The word before ends in a letter: not "#", "no.", ",", "(" or "-" (set off, labelled, a list of numbers).
  if (!isLetter(subject[wordEnd - 1])) return false;
  let wordStart = wordEnd;
  while (wordStart > 0 && isLetter(subject[wordStart - 1])) wordStart--;
  if (NUMBER_LABELS.has(subject.slice(wordStart, wordEnd).toLowerCase())) return false;
  return !(
    end - start === 8 && /^(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$/.test(subject.slice(start, end))
  );
}
/**
 * The bounce address names the recipient, as VERP writes it (`list-bounces-jose=example.org@lists.example.net`):
 * a list manager that reads its bounces one recipient at a time, which ratware, not reading bounces, has no use
 * for. trec07p: 19 of 667 ham (CBS and AccuWeather alerts, a newsletter), 1 of 667 spam; SA public: 1 spam, no
 * ham; the MIME fixtures: 6 (mailauth's ARC-sealed list mail). The envelope's MAIL FROM, or the Return-Path a
 * delivery wrote when the message is classified again (API, training).
 */
function bouncesPerRecipient(i: SpamInput): boolean {
  const bounceTo = i.mailFrom || /<([^<>]*)>/.exec(i.headers.get('return-path') ?? '')?.[1] || '';
  const local = bounceTo.slice(0, bounceTo.lastIndexOf('@')).toLowerCase();
  return local.includes('=') && recipientAddresses(i).some((a) => local.includes(a.replace('@', '=')));
}
const viaList = (i: SpamInput) => i.headers.fields.some((f) => LIST_FIELDS.has(f.name)) || bouncesPerRecipient(i);
/** The message's way here is known: it is being received over SMTP, or relays wrote Received fields. */
const hasTrace = (i: SpamInput) => i.clientIp !== undefined || i.headers.get('received') !== null;
const isReply = (i: SpamInput) => i.headers.get('in-reply-to') !== null || i.headers.get('references') !== null;
const signed = (i: SpamInput) => i.auth.dkim.length > 0 || i.headers.get('dkim-signature') !== null;
const GREETING = /\b(?:helo|ehlo)[= ]\s*\S+/gi;
/** A server's comment names a host or two and an address: more is not a server's, and is not read. */
const MAX_COMMENT = 512;

/**
 * The names a receiving server looked up for its client: the comment of a Received field's from clause
 * ("from helo (rdns [ip])"), the greeting left out wherever a server writes it there ("(HELO x)",
 * "helo=x"): a client names itself what it likes (the ratware of SpamAssassin's corpus greets "yahoo.com"),
 * its address's reverse DNS it cannot choose. Split, not matched: a pattern for host names backtracked
 * quadratically over a long run of letters (60,000: 3 s).
 */
function lookedUpNames(received: string): string[] {
  const comment = FROM_CLAUSE.exec(received)?.[2]?.slice(0, MAX_COMMENT);
  if (!comment) return [];
  return comment
    .replace(GREETING, ' ')
    .replace(/\[[^\][]*\]/g, ' ')
    .split(/[^a-z0-9.-]+/i)
    .filter((name) => name.includes('.') && !name.startsWith('.'));
}

/** The SMTP client, a hop's looked-up name, a signature or the SPF-checked sender is under the domains. */
function cameThrough(i: SpamInput, domains: string[]): boolean {
  if (i.envelope?.hostname && underAny(i.envelope.hostname, domains)) return true;
  if (i.auth.dkim.some((d) => d.result === 'pass' && underAny(d.domain, domains))) return true;
  if (i.auth.spf.result === 'pass' && i.auth.spf.domain && underAny(i.auth.spf.domain, domains)) return true;
  for (const f of i.headers.fields) {
    if (f.name === 'received' && lookedUpNames(f.value).some((h) => underAny(h, domains))) return true;
    // Signed (DKIM, or Yahoo's and Gmail's DomainKeys before it) in the provider's name: a forged
    // signature fails verification on the way in, and DKIM_FAIL scores that.
    if (
      (f.name === 'dkim-signature' || f.name === 'domainkey-signature') &&
      underAny(/\bd=([^;\s]+)/.exec(f.value)?.[1] ?? '', domains)
    )
      return true;
  }
  return false;
}

const MAX_RECEIVED = 10;
// The Date and the trace's times as IMAP's SORT and SENTBEFORE read them.
const dateOf = parseDate;
const FROM_CLAUSE = /^from\s+(\S+)\s+\(([^)]*)\)/i;
const DYNAMIC_NAME =
  /(?:^|[.-])(?:a?dsl|xdsl|dhcp|dyn|dynamic|dial-?up|ppp|pool|cable|cpe|broadband|client|customer|user|host)\d*(?:[.-]|$)|(?:\d{1,3}[-.]){3}\d{1,3}|\d+-\d+-\d+/i;

/** What the trace says of a message's way here, read once per message for the rules that ask. */
interface Trace {
  /** When each hop received it (epoch ms), newest first; now, too, for mail being received over SMTP. */
  received: number[];
  /** The client that handed it in from the Internet: its greeting, reverse DNS name ("" with none) and address. */
  entry: { helo: string; rdns: string; ip: string } | null;
}
const traces = new WeakMap<SpamInput, Trace>();

/**
 * Reads the first Received fields once. Mail being received over SMTP has no Received field of Wren's yet
 * (it is written after classification): the arrival is now, and from a public address the session's
 * client is the entry. Otherwise the entry is the newest Received field whose "from" clause names a
 * public IPv4 address (`from helo (rdns [ip])`, as Wren's MX and most servers write it); hops inside a
 * private network (a mail server's own relays, a fetchmail pick-up) are passed over.
 */
function trace(i: SpamInput): Trace {
  let known = traces.get(i);
  if (known) return known;
  known = { received: [], entry: null };
  if (i.clientIp !== undefined) {
    known.received.push(Date.now());
    if (i.envelope?.helo !== undefined && !isPrivateAddress(i.clientIp))
      known.entry = {
        helo: i.envelope.helo.toLowerCase(),
        rdns: i.envelope.hostname?.toLowerCase() ?? '',
        ip: i.clientIp,
      };
  }
  let seen = 0;
  for (const field of i.headers.fields) {
    if (field.name !== 'received' || seen++ >= MAX_RECEIVED) continue;
    const semicolon = field.value.lastIndexOf(';');
    const at = semicolon < 0 ? null : dateOf(field.value.slice(semicolon + 1));
    if (at !== null) known.received.push(at);
    if (known.entry) continue;
    const from = FROM_CLAUSE.exec(field.value);
    const ip = from && /\[(\d{1,3}(?:\.\d{1,3}){3})\]/.exec(from[2]!)?.[1];
    if (!ip || isPrivateAddress(ip)) continue;
    const name = from[2]!.slice(0, from[2]!.indexOf('[')).trim().split(/\s+/).pop() ?? '';
    known.entry = { helo: from[1]!.toLowerCase(), rdns: name === 'unknown' ? '' : name.toLowerCase(), ip };
  }
  traces.set(i, known);
  return known;
}

/**
 * Hours from the times the mail was received to the Date field's (positive: Date is later), the one
 * nearest to zero; null with none to compare. The nearest, because mail fetched days later (fetchmail's
 * own Received on top: 1.4% of SpamAssassin's public ham) is still near the first hop's time.
 */
function dateSkewHours(i: SpamInput): number | null {
  const sent = dateOf(i.headers.get('date'));
  if (sent === null) return null;
  let nearest: number | null = null;
  for (const at of trace(i).received) {
    const skew = (sent - at) / 3_600_000;
    if (nearest === null || Math.abs(skew) < Math.abs(nearest)) nearest = skew;
  }
  return nearest;
}

function spfAligned(i: SpamInput): boolean {
  const from = i.headers.from[0];
  const spfDomain = i.auth.spf.domain?.toLowerCase();
  return !!from && !!spfDomain && from.endsWith(`@${spfDomain}`);
}

/** The rules that read the message's text: every content feature, and the rules above marked so. */
export const BODY_RULES: ReadonlySet<string> = new Set([
  ...Object.keys(FEATURES),
  ...[...RULES, ...CONTENT_RULES].filter((r) => r.readsBody).map((r) => r.rule),
]);

export const headerRules: SpamScorer = {
  name: 'rules',
  score: (input): SpamHit[] => [
    ...[...RULES, ...CONTENT_RULES]
      .filter((r) => r.test(input))
      .map(({ rule, score, description }) => ({ rule, score, description })),
    ...contentFeatures(input.raw).map((rule) => ({ rule, ...FEATURES[rule] })),
  ],
};
