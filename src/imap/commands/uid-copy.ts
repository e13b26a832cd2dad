import { copyCommand } from '../copy.ts';

export default copyCommand(true, false);
