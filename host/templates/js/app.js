// {{name}}: a Corral tool written in JavaScript.
//
// Build:   componentize-js app.js --wit wit -n tool-plugin -o {{tool_name}}.wasm
//    or:   corral tool build
// Try it:  corral tool call {{tool_name}}.wasm {{tool_name}} --args '{"text": "hello"}'

// The model reads the description and the schema: make them precise.
const schema = {
  type: 'object',
  properties: { text: { type: 'string', description: 'The text to measure.' } },
  required: ['text'],
  additionalProperties: false,
};

export const tool = {
  describe() {
    return [
      {
        name: '{{tool_name}}',
        description: 'Counts the characters of a text.',
        inputSchema: JSON.stringify(schema),
        outputSchema: undefined,
        confirmation: 'never',
        toolType: undefined,
      },
    ];
  },

  // A thrown `{ tag, val }` becomes the WIT tool-error case of that name.
  invoke(name, argumentsJson, _context) {
    if (name !== '{{tool_name}}') throw { tag: 'not-found', val: `no tool named \`${name}\`` };
    let args;
    try {
      args = JSON.parse(argumentsJson);
    } catch (error) {
      throw { tag: 'invalid-arguments', val: `arguments are not valid JSON: ${error}` };
    }
    if (typeof args.text !== 'string') throw { tag: 'invalid-arguments', val: '`text` must be a string' };
    return JSON.stringify({ length: [...args.text].length });
  },
};
