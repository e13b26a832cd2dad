// Package reports implements DMARC aggregate (RFC 7489) and TLS-RPT (RFC 8460) report parsing. This file
// watches deliveries: each received message whose stored structure has a report-like part is parsed
// (after delivery, off the SMTP path) and its reports are kept for the team hosting the reported domain.
// Invariant: a report that arrives twice is kept once. May import foundation and base.
import type { Logger } from 'pino';
import type { MimeNode } from '../mime/types.ts';
import type { Store, StoredEvent } from '../store/index.ts';
import { Reports } from '../store/reports.ts';
import { extractReports, mayBeReport } from './extract.ts';

/**
 * Options of createReportCollector:
 * - store: deliveries are watched through store.notifier ('event': message.received and .spam).
 * - reports: where parsed reports go (default: new Reports(store.kv)).
 * - maxMessageBytes: larger messages are not parsed (default 10 MiB; reports are far smaller).
 * - logger: reports kept, refused (domain not the receiving team's) and unparseable parts.
 */
export interface ReportCollectorOptions {
  store: Store;
  reports?: Reports;
  maxMessageBytes?: number;
  logger?: Logger;
}

export interface ReportCollector {
  /** Resolves once every message seen so far has been looked at. */
  idle(): Promise<void>;
  /** Stops watching; waits for the message being looked at. */
  stop(): Promise<void>;
}

const RECEIVED = new Set(['message.received', 'message.received.spam']);

function hasReportPart(node: MimeNode): boolean {
  if (node.children) return node.children.some(hasReportPart);
  return mayBeReport(`${node.type}/${node.subtype}`, node.disposition?.params.filename ?? node.params.name ?? '');
}

export function createReportCollector(options: ReportCollectorOptions): ReportCollector {
  const { store, logger } = options;
  const reports = options.reports ?? new Reports(store.kv);
  const maxBytes = options.maxMessageBytes ?? 10 * 1024 * 1024;
  let queue: Promise<void> = Promise.resolve();

  async function look(event: StoredEvent): Promise<void> {
    const { accountId, teamId } = event;
    const folderName = event.data.folder;
    const uid = event.data.uid;
    if (!accountId || typeof folderName !== 'string' || typeof uid !== 'number') return;
    const folder = store.folders.byName(accountId, folderName);
    if (!folder) return;
    // Record, structure and bytes from one view: an expunge meanwhile cannot free the blob under the read.
    const raw = await store.withView(async (view) => {
      const [message] = await view.getMany(folder.id, [uid]);
      if (!message || message.size > maxBytes) return null; // moved or expunged since, or too big to be a report
      const [structure] = await view.structures([message.blob]);
      return hasReportPart(structure!.root) ? view.read(message) : null;
    });
    if (!raw) return;
    const { reports: found, errors } = await extractReports(raw);
    for (const error of errors)
      logger?.info({ accountId, uid, error }, 'an attachment looking like a report did not parse');
    for (const report of found) {
      const domain = await store.domains.get(report.domain);
      // Only the team hosting the domain learns about it: a report sent elsewhere is ignored.
      if (domain?.teamId !== teamId) {
        logger?.info(
          { accountId, kind: report.kind, domain: report.domain },
          'ignoring a report about a domain this team does not host',
        );
        continue;
      }
      const { stored, duplicate } = await reports.add(teamId, accountId, report);
      logger?.info(
        { kind: report.kind, domain: report.domain, reporter: report.reporter, id: stored.id, duplicate },
        'report received',
      );
    }
  }

  // Another node's delivery (a shared store, docs/ARCHITECTURE.md §4.8) is that node's to look at.
  const onEvent = (event: StoredEvent, foreign = false): void => {
    if (foreign || !RECEIVED.has(event.type)) return;
    queue = queue
      .then(() => look(event))
      .catch((err: Error) => logger?.error({ err, event: event.id }, 'reading a report failed'));
  };
  store.notifier.on('event', onEvent);

  return {
    idle: () => queue,
    async stop() {
      store.notifier.off('event', onEvent);
      await queue;
    },
  };
}
