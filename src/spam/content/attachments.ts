// Attachments that run, that hide what they are, or that are a web page to log in on; the same named inside a zip.
import { unzipSync } from 'fflate';
import { decodedPart, decodeTransfer } from '../../mime/decode.ts';
import type { MimeNode } from '../../mime/types.ts';
import type { Hits, Message } from './context.ts';

// Attachments that run when opened (rspamd's MIME_BAD_EXTENSION): programs, scripts, shortcuts, installers,
// and disk images, which Windows mounts with their programs outside mark-of-the-web.
const EXECUTABLE =
  /\.(exe|scr|com|pif|bat|cmd|cpl|js|jse|vbs|vbe|wsf|wsh|hta|jar|lnk|msi|msix|appx|ps1|reg|iso|img|vhdx?)$/;
const EXECUTABLE_TYPES = new Set([
  'application/x-msdownload',
  'application/x-msdos-program',
  'application/x-dosexec',
  'application/x-executable',
  'application/vnd.microsoft.portable-executable',
  'application/x-msi',
  'application/x-ms-installer',
  'application/hta',
  'application/x-ms-shortcut',
  'application/java-archive',
  'application/x-java-archive',
  'application/javascript',
  'application/x-javascript',
  'text/javascript',
  'text/vbscript',
  'application/x-iso9660-image',
  'application/x-raw-disk-image',
]);
const MACRO_OFFICE = /\.(docm|dotm|xlsm|xltm|xlam|pptm|potm|ppsm|ppam|sldm)$/;
const HTML_FILE = /\.(s?html?|xhtml|svgz?|mht(ml)?)$/;
const HTML_TYPES = new Set(['text/html', 'image/svg+xml', 'application/xhtml+xml']);
// A document's extension, then another one the reader is not meant to see: after the first, or after a run of
// blanks that pushes it out of view (invoice.pdf.exe, scan.pdf    .html).
const DOUBLE_EXTENSION =
  /\.(pdf|docx?|xlsx?|pptx?|rtf|txt|csv|jpe?g|png|gif|tiff?|zip|rar|7z|html?|mp3|wav|eml)[\s._-]*\.([a-z0-9]{2,5})\s*$|\s{3,}\.[a-z0-9]{2,5}\s*$/;
// What makes an HTML file a page that acts: a form or password field to fill in, a script (atob() unpacks the
// kit, window.location sends the reader on), a refresh that redirects.
const ACTIVE_HTML =
  /<form\b|<script\b|<input\b[^<>]*\btype\s*=\s*["']?password|<meta\b[^<>]*http-equiv\s*=\s*["']?refresh|\batob\s*\(|\b(window|document|top|self)\.location\b/i;
const MAX_ATTACHED_HTML = 256 * 1024;
const ZIP_FILE = /\.zip$/;
const ZIP_TYPES = new Set(['application/zip', 'application/x-zip-compressed', 'application/x-zip']);
// Malware is mailed zipped so that a filter reading names sees only "invoice.zip". The names inside are read
// from the zip's central directory (nothing is inflated; an encrypted zip lists them too). Bigger archives
// are left alone: decoding their base64 would cost more than a classification may.
const MAX_ZIP = 2 * 1024 * 1024;

/** Whether a zip attachment names a file that runs, or a page, inside it (or inside a zip in it, by name). */
function riskyInZip(raw: Buffer, node: MimeNode): boolean {
  if (node.size > (MAX_ZIP * 4) / 3 + 4096) return false;
  let risky = false;
  try {
    unzipSync(decodeTransfer(raw.subarray(node.bodyStart, node.end), node.encoding), {
      filter: ({ name }) => {
        const lower = name.toLowerCase();
        if (EXECUTABLE.test(lower) || MACRO_OFFICE.test(lower) || HTML_FILE.test(lower)) risky = true;
        return false;
      },
    });
  } catch {
    // Not a zip after all, or a damaged one: nothing to read a name from.
  }
  return risky;
}

/** The attachments (also inside attached messages) by their names, types and, for a zip, the names inside. */
export function attachmentFeatures({ raw, parts }: Message, hits: Hits): void {
  for (const a of parts.attachments) {
    if (EXECUTABLE.test(a.filename) || EXECUTABLE_TYPES.has(a.type)) hits.add('RISKY_ATTACHMENT');
    if (MACRO_OFFICE.test(a.filename) || a.type.includes('macroenabled')) hits.add('ATTACH_MACRO_OFFICE');
    if ((ZIP_FILE.test(a.filename) || ZIP_TYPES.has(a.type)) && riskyInZip(raw, a.node)) hits.add('ARCHIVE_RISKY_FILE');
    // Its end only: a name of a thousand blanks would take the regex quadratic time.
    const m = DOUBLE_EXTENSION.exec(a.filename.slice(-100));
    if (m && (!m[2] || EXECUTABLE.test(a.filename) || HTML_FILE.test(a.filename) || MACRO_OFFICE.test(a.filename)))
      hits.add('ATTACH_DOUBLE_EXTENSION');
    if (HTML_FILE.test(a.filename) || HTML_TYPES.has(a.type)) {
      hits.add('ATTACH_HTML');
      if (ACTIVE_HTML.test(decodedPart(raw, a.node, MAX_ATTACHED_HTML))) hits.add('ATTACH_HTML_ACTIVE');
    }
  }
}
