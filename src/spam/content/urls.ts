// Links as written: their host, where a redirector sends them, a URL in plain text, a site's front page.

export const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"']+/gi;
// Nothing after the host but a slash: the site itself, not a page of it.
export const FRONT_PAGE = /^https?:\/\/[^/?#\s]+\/?$/i;

/** "http://user@host:port/…" → { host, userinfo }, or null when it is not a web link. */
export function parseLink(href: string): { host: string; userinfo: boolean } | null {
  const m = /^(?:https?:)?\/\/([^/?#\s]*)/i.exec(href.trim());
  if (!m) return null;
  let authority = m[1]!;
  // Without a "%" there is nothing to decode (most links): spared the call and its try.
  if (authority.includes('%')) {
    try {
      authority = decodeURIComponent(authority);
    } catch {
      /* keep as is */
    }
  }
  const at = authority.lastIndexOf('@');
  const host = (at >= 0 ? authority.slice(at + 1) : authority).replace(/:\d*$/, '').toLowerCase().replace(/\.$/, '');
  return host ? { host, userinfo: at >= 0 } : null;
}

// Parameters that carry where a redirector (google.com/url?q=, l.facebook.com/l.php?u=, Outlook's safelinks,
// a site's own open redirect) sends the reader: phishing hides its host behind a trusted one's.
const REDIRECT_PARAM =
  /[?&](?:q|u|url|redirect|redirect_uri|redirect_url|target|dest|destination|goto|link|to)=((?:https?|ftp)(?::|%3a)[^&#\s]*)/i;

/** The http(s) URL a link's query hands on to, decoded, or null. */
export function redirectTarget(href: string): string | null {
  const m = REDIRECT_PARAM.exec(href);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}
