// The schema's defaults as one parsed config: modules that can run without a config (tests build
// servers directly) take their defaults from here, so no number is stated twice.
import { configSchema, type Config } from './schema.ts';

export const CONFIG_DEFAULTS: Config = configSchema.parse({});
