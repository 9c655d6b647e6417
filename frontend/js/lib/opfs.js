// Sealed ciphertexts wait in the Origin Private File System until they are
// uploaded, so that a reload (or a closed tab) does not lose a long sealing.
// The worker writes with a synchronous access handle; pages read with getFile().

const FOLDER = "etender-bids";

async function folder() {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(FOLDER, { create: true });
}

/** A sink for the Encryptor, writing `name` from its start (dedicated workers only). */
export async function opfsSink(name) {
  const file = await (await folder()).getFileHandle(name, { create: true });
  const handle = await file.createSyncAccessHandle();
  handle.truncate(0);
  let at = 0;
  return {
    write(bytes) {
      const written = handle.write(bytes, { at });
      if (written !== bytes.length) throw new DOMException("the sealed bid could not be written: storage is full", "QuotaExceededError");
      at += written;
    },
    close() {
      handle.flush();
      handle.close();
    },
    abort() {
      try {
        handle.close();
      } catch {
        // already closed
      }
    },
    get size() {
      return at;
    },
  };
}

/** The stored ciphertext as a File, or null if it is not there. */
export async function opfsFile(name) {
  try {
    return await (await (await folder()).getFileHandle(name)).getFile();
  } catch {
    return null;
  }
}

export async function removeOpfsFile(name) {
  try {
    await (await folder()).removeEntry(name);
  } catch {
    // not there
  }
}

/** Names of every stored ciphertext (to clean up what no upload state refers to). */
export async function opfsNames() {
  const names = [];
  for await (const name of (await folder()).keys()) names.push(name);
  return names;
}
