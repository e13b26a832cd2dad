import { storeCommand } from '../store-flags.ts';

export default storeCommand(true);
