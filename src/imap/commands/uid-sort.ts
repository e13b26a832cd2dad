import { sortCommand } from '../search-reply.ts';

export default sortCommand(true);
