// The mailbox API for apps and agents (docs/API.md §12.2): search every word of a query in subject,
// addresses and body, newest first, with highlighted snippets.
import { z } from 'zod';
import { fulltextMatch } from '../../mime/fulltext-text.ts';
import { collapseBlanks } from '../../store/blobs.ts';
import { needsText } from '../../store/fulltext.ts';
import type { Folder, Message } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { defineRoute, type Route } from '../registry.ts';
import { capUtf8, loadFolder, requiredMailbox, messageSummaries, messageSummarySchema } from '../views/messages.ts';

const tag = 'Mailbox';
const mailboxId = z.string().max(40).optional();

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `text` HTML-escaped with every term in `<mark>`; around the first hit when `window` is set. */
function highlight(text: string, terms: RegExp, window?: number): string {
  let slice = text;
  if (window !== undefined) {
    const at = Math.max(0, text.search(terms));
    const from = Math.max(0, at - window / 4);
    slice = (from > 0 ? '…' : '') + text.slice(from, from + window) + (from + window < text.length ? '…' : '');
  }
  let out = '';
  let last = 0;
  for (const hit of slice.matchAll(terms)) {
    out += `${escapeHtml(slice.slice(last, hit.index))}<mark>${escapeHtml(hit[0])}</mark>`;
    last = hit.index + hit[0].length;
  }
  return out + escapeHtml(slice.slice(last));
}

export const searchRoutes = (deps: ApiDeps): Route[] => {
  const { store } = deps;

  return [
    defineRoute({
      method: 'GET',
      path: '/mailbox/search',
      summary: 'Messages matching every word of q (subject, addresses, body), newest first, with <mark> snippets',
      tag,
      permission: 'mailbox.read',
      query: z
        .object({
          mailbox_id: mailboxId,
          q: z.string().trim().min(1).max(200),
          folder_id: z.string().max(40).optional().describe('default: every folder'),
          limit: z.coerce.number().int().min(1).max(100).default(25),
        })
        .strict(),
      response: messageSummarySchema.extend({
        snippet: z.object({ subject: z.string(), preview: z.string() }).describe('HTML-escaped, hits in <mark>'),
      }),
      list: true,
      handler: async ({ key, query }) => {
        const account = await requiredMailbox(deps, key, query.mailbox_id);
        const folders = query.folder_id ? [loadFolder(deps, account, query.folder_id)] : store.folders.list(account.id);
        const words = [...new Set(query.q.toLowerCase().split(/\s+/))].slice(0, 10);
        const terms = new RegExp(
          [...words]
            .sort((a, b) => b.length - a.length)
            .map(escapeRegExp)
            .join('|'),
          'gi',
        );
        // The records, their texts and the summaries from one view: no expunge in between. Each word
        // must occur in the message's headers or body as SEARCH TEXT finds it (store/fulltext.ts):
        // only the messages the full-text index names for every word are read, and their texts only
        // where the index cannot decide.
        return store.withView(async (view) => {
          const all: { folder: Folder; message: Message; decided: boolean }[] = [];
          for (const folder of folders) {
            const candidates = await store.fulltext.candidates(folder.id, words);
            const messages = candidates
              ? [
                  ...(
                    await view.getMany(
                      folder.id,
                      [...candidates.uids].sort((a, b) => a - b),
                    )
                  ).filter((m) => m !== undefined),
                  ...(await view.range(folder.id, candidates.above + 1, 0xffffffff)),
                ]
              : await view.list(folder.id);
            for (const message of messages)
              all.push({ folder, message, decided: !!candidates && !needsText(candidates, message.uid) });
          }
          all.sort((a, b) => b.message.internalDate - a.message.internalDate || b.message.uid - a.message.uid);
          // Texts are read in chunks and the scan stops once a page (and one more) is found.
          const needles = words.map((w) => Buffer.from(w, 'utf8'));
          const found: { folder: Folder; message: Message }[] = [];
          for (let i = 0; i < all.length && found.length <= query.limit; i += 200) {
            const chunk = all.slice(i, i + 200);
            const undecided = chunk.filter((c) => !c.decided);
            const texts = await view.fulltext(undecided.map((c) => c.message));
            const text = new Map(undecided.map((c, j) => [c, texts[j]!]));
            for (const c of chunk)
              if (c.decided || needles.every((n) => fulltextMatch(text.get(c)!, n, false))) found.push(c);
          }
          const page = found.slice(0, query.limit);
          const fields = await view.searchFields(page.map((c) => c.message.blob));
          const data = [];
          for (const [j, hit] of page.entries()) {
            const [summary] = await messageSummaries(deps, hit.folder, [hit.message], view);
            const text = capUtf8(collapseBlanks(fields[j]!.text), 64 * 1024).text;
            data.push({
              ...summary!,
              snippet: { subject: highlight(fields[j]!.subject, terms), preview: highlight(text, terms, 200) },
            });
          }
          return { data, pagination: { has_more: found.length > query.limit } };
        });
      },
    }),
  ];
};
