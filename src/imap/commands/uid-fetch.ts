import { fetchCommand } from '../fetch.ts';

export default fetchCommand(true);
