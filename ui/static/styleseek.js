// StyleSeek's own page behaviour, named by the components (ui/*.py) instead of inline strings.
window.styleseek = {
  // below 1024 px the Library is a drawer over the page
  toggleLibrary() {
    document.getElementById("library").classList.toggle("open");
  },
  // a weight slider shows its value beside it
  showWeight(slider) {
    slider.nextElementSibling.textContent = (+slider.value).toFixed(2);
    slider.closest(".term-row")?.classList.toggle("negative", +slider.value < 0); // an exclusion looks like one
  },
  // a builder row's remove button: the row goes, the search runs again
  removeTerm(button) {
    const form = button.form;
    button.closest(".term-row").remove();
    if (form) form.requestSubmit();
  },
  // the suggestion panel goes back to the empty placeholder the Suggest button fills (no empty frame left)
  closeSuggestions() {
    document.getElementById("suggestions").outerHTML = '<div id="suggestions"></div>';
  },
  // suggested rows move into the term builder, replacing the description they came from, and search
  useTerms(rows) {
    const form = document.getElementById("search-form");
    document.getElementById("term-builder").open = true;
    const terms = document.getElementById("terms");
    rows.forEach((r) => {
      r.querySelector(".accept-term")?.remove();
      terms.appendChild(r);
    });
    document.getElementById("q").value = "";
    form.requestSubmit();
  },
  useTerm(button) {
    styleseek.useTerms([button.closest(".term-row")]);
  },
  useAll() {
    styleseek.useTerms([...document.querySelectorAll("#suggestion-rows .term-row")]);
    styleseek.closeSuggestions();
  },
};

// while a suggestion is being made, the seconds since the request began, so a long wait visibly moves
document.addEventListener("htmx:beforeRequest", (e) => {
  if (!e.detail.elt.matches("#suggest-button, #more-like")) return;
  const t0 = Date.now();
  const box = document.getElementById("suggest-progress");
  const out = document.getElementById("suggest-elapsed");
  out.textContent = "";
  const timer = setInterval(() => {
    if (!box.classList.contains("htmx-request")) clearInterval(timer);
    else out.textContent = Math.round((Date.now() - t0) / 1000) + " s";
  }, 1000);
});
