import { LocalAdapter } from '../../src/adapter/local.js';
import { adapterSuite } from './adapter-suite.js';

adapterSuite('local', (topics, stats) => new LocalAdapter(topics, stats));
