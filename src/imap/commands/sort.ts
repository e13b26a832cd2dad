import { sortCommand } from '../search-reply.ts';

export default sortCommand(false);
