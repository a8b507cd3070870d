// Password files named by settings (mqtt.password_file, http.password_file): where each is looked for (systemd's
// $CREDENTIALS_DIRECTORY for a bare name) and how it is read (once, at start; the final newline is not part of it).
import fs from 'node:fs';
import path from 'node:path';
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

/** The password in the file that the setting `key` names (`file`: mqtt.password_file, http.password_file), without its
 * final newline; undefined when the setting is empty. */
export function readPassword(key: string, file: string, env: NodeJS.ProcessEnv): string | undefined {
  if (file === '') return undefined;
  return readSecretFile(passwordPath(file, env), key)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** A password, CA, certificate or key file that the setting `key` names; one that cannot be read is a configuration
 * error (EMD_SECRET_FILE, exit 78). */
export function readSecretFile(file: string, key: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new EmotiondError('EMD_SECRET_FILE', `${key} ${file}: ${fileReason(err)}`);
  }
}
