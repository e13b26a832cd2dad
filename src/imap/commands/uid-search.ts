import { searchCommand } from '../search-reply.ts';

export default searchCommand(true);
