// ESLint for the browser side: the pad reader's ES modules, the widgets' scripts that Gradio runs (their
// globals are the ones gr.HTML's js_on_load gives), and the Node parity harness.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", "mnist_cnn/web/pad/runtime/", ".venv/"] },
  js.configs.recommended,
  {
    files: ["mnist_cnn/**/*.mjs"],
    languageOptions: { sourceType: "module", globals: globals.browser },
  },
  {
    // gr.HTML's js_on_load bodies (pad.js, network.js, buttons.js) and the event functions (apply_result.js,
    // show_live.js): scripts, with the component's element, props and trigger, and appRoot (app_root.js,
    // which Python puts in front of the widgets that load files)
    files: ["mnist_cnn/**/*.js"],
    languageOptions: {
      sourceType: "script",
      globals: {
        ...globals.browser,
        element: "readonly",
        props: "writable",
        trigger: "readonly",
        watch: "readonly",
        appRoot: "readonly",
      },
    },
  },
  {
    files: ["tests/js/*.mjs", "eslint.config.mjs"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];
