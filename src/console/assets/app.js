// Entry point: the operator console or the mailbox owner's, by the page's area.
import { area } from './lib.js';

if (area === 'admin') await import('./admin.js');
else await import('./account.js');
