// Double of k6/metrics (internal/js/modules/k6/metrics/metrics.go): metrics
// are declared only in the init context; samples are added only outside it.
import { currentVU, state } from './runtime.mjs';

class Metric {
  /**
   * @param {'trend'|'rate'|'counter'|'gauge'} type
   * @param {string} name
   * @param {boolean} [isTime]
   */
  constructor(type, name, isTime = false) {
    if (state.phase !== 'init') {
      throw new Error('metrics must be declared in the init context');
    }
    const run = currentVU().run;
    const known = run.metrics.get(name);
    if (known && (known.type !== type || known.isTime !== isTime)) {
      throw new Error(`metric ${name} redeclared as ${type} (isTime ${isTime}), was ${known.type} (isTime ${known.isTime})`);
    }
    if (!known) {
      run.metrics.set(name, { type, isTime, samples: [] });
    }
    this.name = name;
    this.type = type;
  }

  add(value, tags) {
    if (state.phase === 'init') {
      throw new Error('Adding to metrics in the init context is not supported');
    }
    const vu = currentVU();
    const v = typeof value === 'boolean' ? Number(value) : Number(value);
    if (Number.isNaN(v)) {
      throw new Error(`${this.name}.add(${value}): not a number`);
    }
    vu.run.metrics.get(this.name).samples.push({ vu: vu.id, value: v, tags });
    return true;
  }
}

export class Trend extends Metric {
  constructor(name, isTime) { super('trend', name, Boolean(isTime)); }
}
export class Rate extends Metric {
  constructor(name, isTime) { super('rate', name, Boolean(isTime)); }
}
export class Counter extends Metric {
  constructor(name, isTime) { super('counter', name, Boolean(isTime)); }
}
export class Gauge extends Metric {
  constructor(name, isTime) { super('gauge', name, Boolean(isTime)); }
}

export default { Trend, Rate, Counter, Gauge };
