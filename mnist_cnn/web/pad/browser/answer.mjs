// The answer and its wording, as mnist_cnn/reading/predict.py gives them: AnswerRule.answer,
// Prediction.status_markdown and Prediction.label_confidences (as gr.Label shows them). The thresholds,
// the wording and the class layout come from the server's reader settings (settings.rule,
// settings.messages, settings.classes): there is one copy of each, in Python.

import { mayBeNumber } from "./parts.mjs";
import { percent } from "./pymath.mjs";

// Calibrated probabilities from the model's logits: Predictor.calibrated (softmax of logits / temperature).
export function calibrated(logits, temperature) {
  const scaled = Array.from(logits, (z) => z / temperature);
  const top = Math.max(...scaled);
  const exps = scaled.map((z) => Math.exp(z - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

// AnswerRule.answer: {digit, alternative} (digit null for "not sure"), with the best digit and the
// probability of "not a digit" (every output after the digits) that the wording needs.
export function answer(probs, rule, classes) {
  const digits = Array.from({ length: classes.digits }, (_, digit) => digit);
  const [best, second] = digits.sort((a, b) => probs[b] - probs[a] || a - b); // a stable argsort, as numpy's
  let notADigit = 0;
  for (let i = classes.digits; i < probs.length; i++) notADigit += probs[i];
  if (
    probs[best] < rule.abstain_below ||
    notADigit > rule.not_a_digit_above ||
    probs[best] + probs[second] < rule.digits_below
  ) {
    return { digit: null, alternative: null, best, notADigit };
  }
  return { digit: best, alternative: probs[best] < rule.alternative_below ? second : null, best, notADigit };
}

// Prediction.status_markdown
export function statusMarkdown(probs, read, messages) {
  if (read.digit !== null && read.alternative !== null) {
    const shares = `${percent(probs[read.digit])}% / ${percent(probs[read.alternative])}%`;
    return `**${read.digit}**, or maybe ${read.alternative} (${shares})`;
  }
  if (read.digit !== null) return `**${read.digit}** (${percent(probs[read.digit])}% sure)`;
  return `**${messages.unsure}** (best guess ${read.best}, ${percent(probs[read.best])}%)`;
}

// gr.Label's value, as Label.postprocess makes it from Prediction.label_confidences (top 3).
export function labelValue(probs, notADigit, classes, top = 3) {
  const confidences = Array.from({ length: classes.digits }, (_, digit) => ({
    label: classes.labels[digit],
    confidence: probs[digit],
  }));
  if (notADigit > 0) confidences.push({ label: classes.labels[classes.not_a_digit], confidence: notADigit });
  confidences.sort((a, b) => b.confidence - a.confidence);
  const shown = confidences.slice(0, top);
  return { label: shown[0].label, confidences: shown };
}

// What the pad shows for a drawing while the pen moves, as number.read_digit_or_number decides it: one
// digit's label and status, or, for ink the server reads as a number, only a status saying so (the number
// is read on pen-up). `parts`: the ink's parts (parts.mjs digitParts).
export function padAnswer(probs, parts, settings) {
  const read = answer(probs, settings.rule, settings.classes);
  if (mayBeNumber(parts, read, settings.number)) {
    return { number: true, label: {}, status: `**${settings.messages.number_pending}**` };
  }
  return {
    number: false,
    label: labelValue(probs, read.notADigit, settings.classes),
    status: statusMarkdown(probs, read, settings.messages),
  };
}
