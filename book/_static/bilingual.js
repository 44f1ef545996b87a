// On a search page the language switch keeps the query (?q=...) of the search.
document.addEventListener("DOMContentLoaded", () => {
  for (const link of document.querySelectorAll("a.bilingual-switch__link[data-keep-query]")) {
    link.href = link.href.split("?")[0] + window.location.search;
  }
});
