// Password files named by settings (mqtt.password_file, http.password_file): where each is looked for (systemd's
// $CREDENTIALS_DIRECTORY for a bare name) and how it is read (once, at start; the final newline is not part of it).
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { EmotiondError, fileReason } from '../errors.js';

/**
 * Where the password comes from: a path (anything with a slash) is read as is; a bare name is looked up in
 * `$CREDENTIALS_DIRECTORY` (systemd LoadCredential=) when that is set, else read relative to the working directory.
 */
export function passwordPath(passwordFile: string, env: NodeJS.ProcessEnv): string {
  const bare = !passwordFile.includes('/') && !passwordFile.includes(path.sep);
  const creds = env['CREDENTIALS_DIRECTORY'];
  if (bare && creds) return path.join(creds, passwordFile);
  return passwordFile;
}

/** The password in mqtt.password_file without its final newline; undefined when no file is set. */
export function readPassword(m: Pick<Config['mqtt'], 'password_file'>, env: NodeJS.ProcessEnv): string | undefined {
  if (m.password_file === '') return undefined;
  return readSecretFile(passwordPath(m.password_file, env), 'mqtt.password_file').toString('utf8').replace(/\r?\n$/, '');
}

/** A password, CA, certificate or key file that the setting `key` names; a file that cannot be read is a configuration error. */
export function readSecretFile(file: string, key: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new EmotiondError('EMD_MQTT_FILE', `${key} ${file}: ${fileReason(err)}`);
  }
}
