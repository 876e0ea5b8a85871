// arcgitops portal: its one script of its own (htmx, vendored beside it,
// does the live updates). Every page reads without scripts; this adds what
// needs one: copying a deploy key to the clipboard.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) {
    return;
  }
  const field = document.getElementById(button.dataset.copy);
  const note = document.getElementById(button.dataset.copy + "-copied");
  try {
    await navigator.clipboard.writeText(field.value);
    note.textContent = "Copied to the clipboard.";
  } catch {
    field.focus();
    field.select();
    note.textContent = "The browser refused the clipboard: the key is selected, copy it with Ctrl+C.";
  }
});
