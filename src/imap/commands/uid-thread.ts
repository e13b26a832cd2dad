import { threadCommand } from '../thread.ts';

export default threadCommand(true);
