// What the pages keep in this browser (IndexedDB "etender"): the user's key
// pairs (private keys non-extractable: WebCrypto keeps them, IndexedDB stores
// the CryptoKey objects, no script can read their bytes), the state of an
// unfinished bid upload, so that it resumes after a reload, the user's
// trust list for custodians' signing keys (lib/trust.js), and what this browser
// sealed into the user's standing bid (its lots and prices), so that the bid
// page can show what a new submission would replace.

const DB_NAME = "etender";
const DB_VERSION = 3;
export const KEYS = "keys";
export const UPLOADS = "uploads";
export const TRUST = "trust";
export const SEALED = "sealed";

let opening = null;

function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(KEYS)) db.createObjectStore(KEYS, { keyPath: "user" });
        if (!db.objectStoreNames.contains(UPLOADS)) db.createObjectStore(UPLOADS, { keyPath: "key" });
        if (!db.objectStoreNames.contains(TRUST)) db.createObjectStore(TRUST, { keyPath: "user" });
        if (!db.objectStoreNames.contains(SEALED)) db.createObjectStore(SEALED, { keyPath: "key" });
      };
      request.onsuccess = () => {
        // Another tab of a newer page version wants to upgrade the database: let it.
        request.result.onversionchange = () => request.result.close();
        resolve(request.result);
      };
      request.onerror = () => reject(request.error);
    });
  }
  return opening;
}

async function run(storeName, mode, action) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(storeName, mode);
    const request = action(transaction.objectStore(storeName));
    transaction.oncomplete = () => resolve(request?.result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

export const get = (storeName, key) => run(storeName, "readonly", (s) => s.get(key));
export const put = (storeName, value) => run(storeName, "readwrite", (s) => s.put(value));
export const remove = (storeName, key) => run(storeName, "readwrite", (s) => s.delete(key));
export const all = (storeName) => run(storeName, "readonly", (s) => s.getAll());

/** The key of an upload's state: one unfinished bid per user and tender. */
export const uploadKey = (user, tender) => `${user}|${tender}`;

/** The key of what this browser sealed into one bid. */
export const sealedKey = (user, bid) => `${user}|${bid}`;
