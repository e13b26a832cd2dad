// The MIME indexer over the whole shared MIME corpus (../shared/corpus/mime, 700+ files from 15
// sources): the invariant checks of test/unit/mime-fixtures.test.ts (which runs them on the small
// in-repo fixtures) on every message, every part body on its own and mangled copies, then the
// indexing speed. Exits non-zero on the first broken invariant.
//
//   npx node bench/mime-corpus.ts        (WRENMAIL_MIME_CORPUS: the corpus folder, if elsewhere)
import { checkAll, checkMangled, checkPartBodies, indexingSpeed, loadMessages } from '../test/helpers/mime-check.ts';
import { requireCorpus, SHARED_CORPUS } from './lib/corpus.ts';

const CORPUS = process.env.WRENMAIL_MIME_CORPUS ?? `${SHARED_CORPUS}/mime`;
requireCorpus('WRENMAIL_MIME_CORPUS', CORPUS);

const { files, samples } = loadMessages(CORPUS);
console.log(`MIME corpus at ${CORPUS}: ${files} files, ${samples.length} messages (mbox files split)`);
const stats = checkAll(samples);
console.log(
  `invariants hold: ${stats.nodes} MIME nodes, ${stats.multipart} multipart, ${stats.embedded} embedded messages, nesting depth ${stats.maxDepth}`,
);
console.log(`part bodies re-indexed standalone: ${checkPartBodies(samples)}`);
console.log(`mangled copies indexed (truncated, bytes overwritten): ${checkMangled(samples)}`);
console.log(indexingSpeed(samples));
