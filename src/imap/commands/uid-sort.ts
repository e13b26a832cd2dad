import { sortCommand } from '../sort.ts';

export default sortCommand(true);
