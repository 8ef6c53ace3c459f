// Under Node and Bun the package exports the same API as in a mini-program.
export * from '../../miniprogram_dist/index';
