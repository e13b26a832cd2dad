// Finds DMARC aggregate and TLS-RPT reports among a message's attachments (RFC 7489 §7.2.1.1: XML,
// gzip or zip; RFC 8460 §5.3: application/tlsrpt+json or +gzip), and parses them.
import { simpleParser, type Attachment } from 'mailparser';
import type { ParsedReport } from '../store/reports.ts';
import { parseDmarcReport } from './dmarc.ts';
import { parseTlsReport } from './tls-rpt.ts';
import { unpack } from './unpack.ts';

// Types reporters give the report file; octet-stream and text/plain only go with a report file name.
const REPORT_TYPE = /^(application\/(tlsrpt\+(json|gzip)|(x-)?(zip|gzip)|x-zip-compressed|xml|json)|text\/xml)$/;
const REPORT_NAME = /\.(xml|json|zip|gz)$/i;

/** Could a part of this MIME type and file name be a report? (also checked on stored structures before parsing) */
export function mayBeReport(type: string, filename = ''): boolean {
  const t = type.toLowerCase();
  if (t === 'application/octet-stream' || t === 'text/plain') return REPORT_NAME.test(filename);
  return REPORT_TYPE.test(t);
}

function parseAttachment(attachment: Attachment): ParsedReport | null {
  const type = attachment.contentType.toLowerCase();
  if (!mayBeReport(type, attachment.filename)) return null;
  const text = unpack(attachment.content)
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (type.startsWith('application/tlsrpt') || text.startsWith('{')) return parseTlsReport(text);
  if (text.startsWith('<')) return parseDmarcReport(text);
  return null;
}

/**
 * The reports a message carries. A part that looks like a report but does not parse is reported in
 * `errors` (a broken report is worth a log line, not a delivery failure).
 */
export async function extractReports(raw: Buffer): Promise<{ reports: ParsedReport[]; errors: string[] }> {
  const parsed = await simpleParser(raw, {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    skipImageLinks: true,
  });
  const reports: ParsedReport[] = [];
  const errors: string[] = [];
  for (const attachment of parsed.attachments) {
    try {
      const report = parseAttachment(attachment);
      if (report) reports.push(report);
    } catch (err) {
      errors.push(`${attachment.filename ?? attachment.contentType}: ${(err as Error).message}`);
    }
  }
  return { reports, errors };
}
