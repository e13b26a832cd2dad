// `wrenmail spam train --spam PATH... --ham PATH...`: trains the running server's classifier with
// every message under the paths (Maildir or any tree of message files, mbox files), one
// POST /api/v1/spam/train/{class} each, a few in flight, waiting out the API's rate limit.
// `wrenmail spam check FILE`: one message scored as the MX would score it (POST /api/v1/spam/classify), the
// operator's rspamc or `spamassassin -t`: why was this junked?
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Config } from '../config/schema.ts';
import { ApiCallError, apiCall } from '../client/api.ts';
import { Progress, reportFailure, UsageError } from '../client/progress.ts';

export const SPAM_OPTIONS = {
  spam: { type: 'string', multiple: true },
  ham: { type: 'string', multiple: true },
  'remote-ip': { type: 'string' },
  helo: { type: 'string' },
  'mail-from': { type: 'string' },
  'rcpt-to': { type: 'string', multiple: true },
} as const;

export const SPAM_USAGE = `  spam train [--spam PATH...] [--ham PATH...]
                                   train the classifier with the messages under the paths
                                   (Maildir, directories of message files, mbox files)
  spam check FILE|- [--remote-ip IP [--helo NAME] [--mail-from ADDR] [--rcpt-to ADDR...]] [--json]
                                   score one message as the MX would (it is not trained): the verdict
                                   and the rules that fired; with --remote-ip, as received from that
                                   client (SPF, DKIM, DMARC checked)`;

const IN_FLIGHT = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface TrainReply {
  trained: boolean;
  unchanged: boolean;
  totals: { spam: number; ham: number };
}

/** --spam and --ham each take every path up to the next option ("--spam a b --ham c"). */
function pathsOf(
  argv: string[],
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'],
): { positionals: string[]; spam: string[]; ham: string[] } {
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, tokens: true, strict: false });
  const out = { positionals: [] as string[], spam: [] as string[], ham: [] as string[] };
  let current: 'spam' | 'ham' | undefined;
  for (const token of tokens) {
    if (token.kind === 'option') {
      current = token.name === 'spam' || token.name === 'ham' ? token.name : undefined;
      if (current && token.value !== undefined) out[current].push(token.value);
    } else if (token.kind === 'positional') (current ? out[current] : out.positionals).push(token.value);
  }
  return out;
}

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** `argv`: the whole command line, `options`: every option main.ts knows (so their values are not taken for paths). */
export async function runSpam(config: Config, argv: string[], options: Options): Promise<number> {
  try {
    const { positionals, spam, ham } = pathsOf(argv, options);
    const [, sub, ...extra] = positionals;
    if (sub === 'check') return await check(config, argv, options);
    if (sub !== 'train') throw new UsageError(`spam ${sub ?? ''}: expected spam train or spam check`);
    if (extra.length) throw new UsageError(`unexpected ${extra.join(' ')}`);
    if (spam.length + ham.length === 0) throw new UsageError('spam train needs --spam PATH or --ham PATH');
    const { readMessages } = await import('../spam/train.ts');
    const progress = new Progress('trained', { skipped: 'known already' });
    let totals: TrainReply['totals'] | undefined;
    const train = async (cls: 'spam' | 'ham', source: string, raw: Buffer): Promise<void> => {
      for (let wait = 1000; ; wait = Math.min(wait * 2, 15_000)) {
        try {
          const { data } = await apiCall<TrainReply>(config, 'POST', `/api/v1/spam/train/${cls}`, {
            message: raw.toString('utf8'),
          });
          totals = data.totals;
          progress.add(data.trained ? 'copied' : 'skipped', raw.length);
          return;
        } catch (err) {
          if (err instanceof ApiCallError && err.status === 429) await sleep(wait);
          else if (err instanceof ApiCallError && (err.status === 413 || err.status === 422 || err.status === 400)) {
            progress.note(`${source}: not trained (${err.message})`);
            progress.add('failed');
            return;
          } else throw err;
        }
      }
    };
    for (const [cls, paths] of [
      ['spam', spam],
      ['ham', ham],
    ] as const) {
      for (const path of paths) {
        progress.stage(`${cls} ${path}`);
        const running = new Set<Promise<void>>();
        let failure: { error: unknown } | undefined;
        for await (const { source, raw } of readMessages(path)) {
          const p: Promise<void> = train(cls, source, raw)
            .catch((error: unknown) => void (failure ??= { error }))
            .finally(() => running.delete(p));
          running.add(p);
          if (running.size >= IN_FLIGHT) await Promise.race(running);
          if (failure) break;
        }
        await Promise.all(running);
        if (failure) throw failure.error;
      }
    }
    progress.done();
    if (totals) process.stdout.write(`model: ${totals.spam} spam, ${totals.ham} ham messages trained\n`);
    return progress.counts.failed ? 1 : 0;
  } catch (err) {
    return reportFailure(err, `usage:\n${SPAM_USAGE}`);
  }
}

interface ClassifyReply {
  score: number;
  verdict: string;
  bayes_probability: number | null;
  rules: { rule: string; score: number; description: string }[];
  authentication: {
    spf: { result: string; domain: string | null };
    dkim: { result: string; domain: string }[];
    dmarc: { result: string; domain: string | null };
    action: string;
  } | null;
}

async function check(config: Config, argv: string[], options: Options): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: false });
  const file = positionals[2];
  if (!file || positionals.length > 3) throw new UsageError('spam check needs one FILE (or - for standard input)');
  const raw = readFileSync(file === '-' ? 0 : file);
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const rcptTo = values['rcpt-to'] as string[] | undefined;
  const { data } = await apiCall<ClassifyReply>(config, 'POST', '/api/v1/spam/classify', {
    message: raw.toString('utf8'),
    remote_ip: text('remote-ip'),
    helo: text('helo'),
    mail_from: text('mail-from'),
    rcpt_to: rcptTo,
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return 0;
  }
  const bayes = data.bayes_probability === null ? 'no verdict (model too small)' : data.bayes_probability.toFixed(3);
  const lines = [`${data.verdict}: score ${data.score.toFixed(1)}, Bayes ${bayes}`];
  const auth = data.authentication;
  if (auth) {
    const dkim = auth.dkim.map((d) => `${d.result} (${d.domain})`).join(', ') || 'none';
    const spfDomain = auth.spf.domain ? ` (${auth.spf.domain})` : '';
    const dmarcDomain = auth.dmarc.domain ? ` (${auth.dmarc.domain})` : '';
    lines.push(
      `SPF ${auth.spf.result}${spfDomain}; DKIM ${dkim}; DMARC ${auth.dmarc.result}${dmarcDomain}, asks: ${auth.action}`,
    );
  }
  for (const r of [...data.rules].sort((a, b) => b.score - a.score))
    lines.push(`${r.score.toFixed(1).padStart(6)}  ${r.rule.padEnd(28)} ${r.description}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
