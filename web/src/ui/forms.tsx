// Form building blocks with the accessibility wiring done once: a label for every input, the
// field's error tied to it (aria-invalid, aria-describedby), problems announced (role=alert).

import type { ComponentChildren } from 'preact';
import { useRef, useState } from 'preact/hooks';
import type { Checked, FieldError } from '../lib/validate';
import type { Problem } from '../lib/problem';

export type Errors = Record<string, string>;

/** Field errors by field, from the page's checks or an origin 400's `field`. */
function errorsOf(list: FieldError[]): Errors {
  return Object.fromEntries(list.map((e) => [e.field, e.message]));
}

/** Moves focus to the first field with an error, so keyboard and screen-reader users land on it. */
function focusFirst(form: HTMLFormElement | null, errors: Errors): void {
  const first = Object.keys(errors)[0];
  if (first) (form?.querySelector<HTMLElement>(`#${CSS.escape(first)}`))?.focus();
}

/**
 * A form's field errors, from the page's own checks and from the origin's 400s, shown the same
 * way. `toInput` maps an origin field name to the input's id where they differ.
 */
export function useFieldErrors(fields: string[], toInput: (field: string) => string = (f) => f) {
  const form = useRef<HTMLFormElement>(null);
  const [errors, setErrors] = useState<Errors>({});
  const show = (list: FieldError[]) => {
    const e = errorsOf(list);
    setErrors(e);
    focusFirst(form.current, e);
  };
  return {
    form,
    errors,
    /** The checked value (errors cleared), or `null` once its errors are shown. */
    check<T>(c: Checked<T>): { value: T } | null {
      if (!c.ok) {
        show(c.errors);
        return null;
      }
      setErrors({});
      return { value: c.value };
    },
    /** Shows an origin 400 on the input it names, when this form has that input. */
    fromProblem(p: Problem) {
      const input = p.field && toInput(p.field);
      if (p.status === 400 && input && fields.includes(input)) show([{ field: input, message: p.detail }]);
    },
  };
}

interface FieldProps {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  error?: string;
  hint?: string;
  type?: 'text' | 'password' | 'date' | 'datetime-local';
  inputMode?: 'decimal' | 'numeric' | 'text';
  autoComplete?: string;
  required?: boolean;
}

export function Field(p: FieldProps) {
  const describedBy = [p.hint ? `${p.id}-hint` : '', p.error ? `${p.id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label for={p.id}>{p.label}</label>
      <input
        id={p.id}
        name={p.id}
        type={(p.type ?? 'text') as 'text'}
        inputMode={p.inputMode}
        autoComplete={p.autoComplete ?? 'off'}
        spellcheck={false}
        required={p.required}
        value={p.value}
        aria-invalid={p.error ? 'true' : undefined}
        aria-describedby={describedBy}
        onInput={(e) => p.onInput((e.currentTarget as HTMLInputElement).value)}
      />
      {p.hint && <p class="hint" id={`${p.id}-hint`}>{p.hint}</p>}
      {p.error && <p class="error" id={`${p.id}-error`}>{p.error}</p>}
    </div>
  );
}

/** A problem from the edge or the origin: its title and detail. */
export function ProblemBox({ problem, children }: { problem: Problem | null; children?: ComponentChildren }) {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <p>
        <strong>{problem.title}</strong>
        {problem.detail && <span>: {problem.detail}</span>}
      </p>
      {children}
    </div>
  );
}

/** A polite live region for progress and results ("Loading…", "Added 42"). */
export function Status({ children, id }: { children?: ComponentChildren; id?: string }) {
  return (
    <p class="status" role="status" id={id}>
      {children}
    </p>
  );
}

/**
 * A box that scrolls sideways on a narrow screen (wide tables). Focusable and named, so keyboard
 * users can scroll it too.
 */
export function Scroll({ label, children }: { label: string; children?: ComponentChildren }) {
  return (
    <div class="scroll" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}

/** A table in a sideways-scrolling box: column headings, then the rows given. */
export function Table({ id, label, caption, head, children }: { id: string; label: string; caption?: string; head: ComponentChildren[]; children: ComponentChildren }) {
  return (
    <Scroll label={label}>
      <table id={id}>
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            {head.map((h, i) => (
              <th scope="col" key={i}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </Scroll>
  );
}
