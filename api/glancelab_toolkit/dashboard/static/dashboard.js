// Bars drawn from their data-percent (the page's Content-Security-Policy allows no inline style).
for (const bar of document.querySelectorAll(".bar span[data-percent]")) {
  bar.style.width = bar.dataset.percent + "%";
}
