'use strict';
// WeChat's local storage: values kept as they were set (strings, objects), 1 MB per key and 10 MB
// in total, persisted to a file so that a simulated relaunch finds them again.
const fs = require('fs');

const MAX_KEY_BYTES = 1024 * 1024;
const MAX_TOTAL_BYTES = 10 * 1024 * 1024;

class SimStorage {
  constructor(file) {
    this.file = file;
    this.data = new Map();
    if (file && fs.existsSync(file)) this.data = new Map(Object.entries(JSON.parse(fs.readFileSync(file, 'utf8'))));
  }

  static size(key, value) {
    return Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value === undefined ? null : value));
  }

  totalBytes() {
    let total = 0;
    for (const [k, v] of this.data) total += SimStorage.size(k, v);
    return total;
  }

  get(key) {
    return this.data.has(key) ? { found: true, value: this.data.get(key) } : { found: false };
  }

  // Throws WeChat's errMsg text when a limit is hit.
  set(key, value) {
    const size = SimStorage.size(key, value);
    if (size > MAX_KEY_BYTES) throw new Error('exceed storage item max length');
    const previous = this.data.has(key) ? SimStorage.size(key, this.data.get(key)) : 0;
    if (this.totalBytes() - previous + size > MAX_TOTAL_BYTES) throw new Error('exceed storage max size 10Mb');
    this.data.set(key, JSON.parse(JSON.stringify(value)));
    this.flush();
  }

  remove(key) {
    this.data.delete(key);
    this.flush();
  }

  flush() {
    if (this.file) fs.writeFileSync(this.file, JSON.stringify(Object.fromEntries(this.data)));
  }
}

module.exports = { SimStorage, MAX_KEY_BYTES, MAX_TOTAL_BYTES };
