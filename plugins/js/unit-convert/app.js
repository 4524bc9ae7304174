// unit-convert: a Corral tool component written in JavaScript (componentize-js).
//
// Two tools: `convert_length` converts between length units; `fetch_status` fetches a URL with
// `fetch`, which goes through the host's HTTP policy like every other request.
// Build: componentize-js app.js --wit ../../../wit -n tool-plugin -o unit_convert.wasm

import { log } from 'corral:tool/log@0.1.0';

const METRES = { m: 1, km: 1000, cm: 0.01, mi: 1609.344, ft: 0.3048, in: 0.0254 };
const UNITS = Object.keys(METRES);

const schemas = {
  convert_length: {
    type: 'object',
    properties: {
      value: { type: 'number', description: 'The length to convert.' },
      from: { type: 'string', enum: UNITS, description: 'The unit of `value`.' },
      to: { type: 'string', enum: UNITS, description: 'The unit to convert to.' },
    },
    required: ['value', 'from', 'to'],
    additionalProperties: false,
  },
  fetch_status: {
    type: 'object',
    properties: { url: { type: 'string', description: 'Absolute http:// or https:// URL.' } },
    required: ['url'],
    additionalProperties: false,
  },
};

// A thrown `{ tag, val }` becomes the WIT `tool-error` case of that name.
const invalid = (message) => ({ tag: 'invalid-arguments', val: message });

function convertLength({ value, from, to }) {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid('`value` must be a finite number');
  if (!(from in METRES) || !(to in METRES)) throw invalid(`units must be one of ${UNITS.join(', ')}`);
  const converted = (value * METRES[from]) / METRES[to];
  // Round away floating-point noise (1500 m is 1.5 km, not 1.5000000000000002).
  return { value: Number(converted.toPrecision(12)), unit: to };
}

async function fetchStatus({ url }) {
  if (typeof url !== 'string') throw invalid('`url` must be a string');
  try {
    const response = await fetch(url);
    log('info', `fetch_status: ${url} -> ${response.status}`);
    return { status: response.status };
  } catch (error) {
    throw { tag: 'failed', val: `fetch failed: ${error}` };
  }
}

const tools = { convert_length: convertLength, fetch_status: fetchStatus };

export const tool = {
  describe() {
    return [
      {
        name: 'convert_length',
        description: 'Converts a length between m, km, cm, mi, ft and in.',
        inputSchema: JSON.stringify(schemas.convert_length),
        outputSchema: undefined,
        confirmation: 'never',
        toolType: 'math',
      },
      {
        name: 'fetch_status',
        description: 'Fetches a URL and returns the HTTP status code.',
        inputSchema: JSON.stringify(schemas.fetch_status),
        outputSchema: undefined,
        confirmation: 'never',
        toolType: 'http',
      },
    ];
  },

  async invoke(name, argumentsJson, _context) {
    const run = tools[name];
    if (!run) throw { tag: 'not-found', val: `this component has no tool named \`${name}\`` };
    let args;
    try {
      args = JSON.parse(argumentsJson);
    } catch (error) {
      throw invalid(`arguments are not valid JSON: ${error}`);
    }
    return JSON.stringify(await run(args));
  },
};
