/**
 * Path-safety rules for names and path components from metainfo
 * (../shared/PROTOCOL.md, "Metainfo"). A torrent names files on the user's
 * disk, so every component that a remote wrote is checked before it can be
 * joined to a download folder: these are the path traversal attacks.
 */
import { MetainfoError } from '../errors.js';

/** Longest component accepted: most file systems stop at 255 bytes. */
export const MAX_COMPONENT_BYTES = 255;

/**
 * Longest relative path accepted (the torrent's name, its folders and the
 * file name joined with `/`): Linux's PATH_MAX. A longer one cannot be
 * opened on most systems anyway, and a torrent of thousands of tiny
 * components would otherwise make us create thousands of nested folders.
 */
export const MAX_RELATIVE_PATH_BYTES = 4096;

/**
 * Throws a MetainfoError naming `field` unless `component` is one safe path
 * component: not empty, not `.` or `..`, no `/`, `\` or NUL, no drive letter
 * (`C:`), and not longer than a file system allows.
 */
export function checkPathComponent(component: string, field: string): void {
  if (component.length === 0) throw new MetainfoError(field, 'empty path component');
  if (component === '.' || component === '..') throw new MetainfoError(field, `path component ${JSON.stringify(component)} is not allowed (path traversal)`);
  if (component.includes('/') || component.includes('\\')) {
    throw new MetainfoError(field, `path component ${JSON.stringify(component)} holds a path separator`);
  }
  if (component.includes('\0')) throw new MetainfoError(field, 'path component holds a NUL byte');
  // A drive letter makes the component absolute on Windows (`C:x` is relative to C:'s cwd).
  if (/^[A-Za-z]:/.test(component)) throw new MetainfoError(field, `path component ${JSON.stringify(component)} starts with a drive letter`);
  if (Buffer.byteLength(component, 'utf8') > MAX_COMPONENT_BYTES) {
    throw new MetainfoError(field, `path component is longer than ${MAX_COMPONENT_BYTES} bytes`);
  }
}

/** Checks every component of a path; an empty path is refused too. */
export function checkPath(components: readonly string[], field: string): void {
  if (components.length === 0) throw new MetainfoError(field, 'empty path');
  for (const c of components) checkPathComponent(c, field);
}

/**
 * Throws a MetainfoError naming `field` when `name/components...` (the path
 * the file gets under the download folder) is longer than
 * MAX_RELATIVE_PATH_BYTES.
 */
export function checkPathLength(name: string, components: readonly string[], field: string): void {
  let bytes = Buffer.byteLength(name, 'utf8');
  for (const c of components) {
    bytes += 1 + Buffer.byteLength(c, 'utf8');
    if (bytes > MAX_RELATIVE_PATH_BYTES) {
      throw new MetainfoError(field, `the path is longer than ${MAX_RELATIVE_PATH_BYTES} bytes (${components.length} components)`);
    }
  }
}
