import { copyCommand } from '../copy.ts';

export default copyCommand(false, false);
